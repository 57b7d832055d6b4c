// RedisStoreImpl: the private state and steps of RedisFeatureStore. The
// contract (semantics, layout, who computes, failure handling) is in
// redis_feature_store.h; the steps are defined by job:
//   redis_feature_store.cpp  construction, apply, batch resume
//   redis_topology.cpp       seeds, cluster topology, connections, epochs
//   redis_groups.cpp         grouping ops per key, computing on the copies
//   redis_resp.cpp           digests, key names, RESP writing
//   redis_calls.cpp          the per-node pipelined call: write, read, settle
//   redis_prefetch.cpp       keys announced ahead and fetched with a batch
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/redis/redis_feature_store.h"
#include "connectors/redis/state_cache.h"
#include "engine/window_state.h"

struct redisContext;
struct redisReply;

namespace fraud {

class RedisStoreImpl {
 public:
  RedisStoreImpl(std::vector<RedisEndpoint> seeds, std::string salt, RedisStoreOptions options,
                 FeatureStoreStats& stats);
  ~RedisStoreImpl();
  RedisStoreImpl(const RedisStoreImpl&) = delete;
  RedisStoreImpl& operator=(const RedisStoreImpl&) = delete;

  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results);
  void digest(const RuleSet& rules, std::span<FeatureOp> ops) const;
  void prefetch(const RuleSet& rules, std::span<const FeatureOp> ops);
  StoreStatus connect();
  bool creating() const { return conflict_share_ <= kMaxConflictShare; }
  bool cluster() const { return cluster_; }
  std::size_t node_count() const { return nodes_.size(); }

  static constexpr std::size_t kGroupsPerCall = RedisFeatureStore::kGroupsPerCall;
  static constexpr std::size_t kMaxPrefetch = RedisFeatureStore::kMaxPrefetch;
  static constexpr double kMaxConflictShare = RedisFeatureStore::kMaxConflictShare;
  static constexpr std::uint64_t kCreateProbeEvery = RedisFeatureStore::kCreateProbeEvery;

 private:
  struct Node {
    std::string host;
    int port = 0;
    redisContext* ctx = nullptr;
    // Data-loss detection: a key on this node holding a random epoch that
    // every engine adopts; if it is gone or changed, the node lost its data.
    std::string epoch_key;  // empty: not chosen yet (topology changed)
    std::string epoch;      // the value adopted; empty: none seen yet
  };
  // Checks the epoch of every connected node (one pipelined round trip per
  // node); sets `reset` when one lost its data since the last check.
  StoreStatus check_epochs(bool& reset);
  std::string epoch_key_for(std::size_t node) const;
  using Digest = StateCache::Digest;  // 16 bytes of a salted SHA-256
  struct DigestHash {
    std::size_t operator()(const Digest& d) const { return static_cast<std::size_t>(d[0]); }
  };
  using CachedState = StateCache::Entry;  // the engine's copy of a stored state
  static constexpr std::int64_t kTtlUnknown = StateCache::kTtlUnknown;
  // One (feature, entity) key of a batch. Reused across batches: buffers
  // keep their capacity up to kGroupKeepBytes. Without that bound every
  // reused group would end up holding the largest state it ever encoded (a
  // hot key's distinct set can reach tens of KB), and the pool of groups -
  // as many as the largest batch had keys - grows with the biggest state of
  // the stream rather than with what a batch needs.
  static constexpr std::size_t kGroupKeepBytes = 4096;
  struct Group {
    std::uint32_t feature = 0;
    std::vector<std::uint32_t> ops;
    std::uint16_t slot = 0;         // cluster only: set when the group is routed
    std::string key;                // `fs:{<hash>}`
    CachedState* cached = nullptr;  // null: no copy kept (naive mode, cache off)
    bool prepared = false;          // its arguments are built (and its copy computed on)
    bool keep_ttl = false;          // the write may keep the key's TTL (see ttl_args_)
    bool create = false;            // no stored value by the copy: SET NX instead of the script
    bool absent = false;            // only read, no stored value by the copy: EXISTS instead of the script
    std::uint32_t overflows = 0;    // distinct values its copy could not track (counted once it stands)
    // The script's arguments for this key (see feature_script.h), built once
    // per apply so a resend after a redirect sends the same.
    std::string expect;
    std::string state;
    std::string ops_blob;
    // Ready for another key: no ops, no copy, oversized buffers released.
    void recycle();
  };
  // What one node call asked for, and how it went.
  struct Call {
    int node = -1;
    std::vector<std::uint32_t> groups;
    bool asking = false;       // prefix ASKING (an ASK redirect)
    std::string flags;         // the script's ARGV[1]
    std::int64_t sent_ms = 0;  // steady clock when it was written
    // Once prepared: the groups sent as SET NX, and those sent to the script
    // (one EVALSHA, after the SETs).
    std::vector<std::uint32_t> creates;
    std::vector<std::uint32_t> absents;  // an EXISTS each, after the SETs
    std::vector<std::uint32_t> script;
    // Keys fetched ahead (indexes into fetches_): a GET each, last.
    std::vector<std::uint32_t> fetches;
  };
  // A key announced by prefetch(): its feature, a hash of the feature's
  // fingerprint then (a pack reload may renumber features), and the ops it
  // came with (an apply of those very ops skips it: its keys are held).
  struct Announced {
    Digest digest{};
    std::uint32_t feature = 0;
    std::uint64_t fingerprint = 0;
    const FeatureOp* ops = nullptr;
  };
  // A key fetched ahead in this apply, and what its GET answered.
  struct Fetch {
    Digest digest{};
    std::uint32_t feature = 0;
    std::string key;
    bool answered = false;
    bool exists = false;  // a value (else nil)
    std::string value;
  };
  // A feature's TTL arguments: keys live window + resolution after their
  // last write, and up to `slack` (1/8) longer, so a key written again within
  // the slack keeps its TTL (SET KEEPTTL: no expiry bookkeeping in Redis).
  struct TtlArgs {
    std::int64_t ttl_ms = -1;  // window + resolution
    std::int64_t slack_ms = 0;
    std::string set;   // "<ttl + slack>": SET ... PX
    std::string keep;  // "-<ttl + slack>": KEEPTTL when the stamp matches, else PX
  };

  StoreStatus refresh_topology();
  StoreStatus connect_node(Node& n);
  void disconnect(Node& n);
  int node_index(const std::string& host, int port);
  void group(const RuleSet& rules, std::span<const FeatureOp> ops);
  Digest digest_of(std::string_view a, std::string_view b) const;  // salted SHA-256 of a NUL b, 16 bytes
  Digest key_digest(const RuleSet& rules, const FeatureOp& op) const;
  Digest value_digest(const FeatureOp& op) const;
  Group& new_group();
  // Computes each pending group's result on its cached state (values into
  // `results`) and builds its script arguments for a call sent at `now_ms`
  // (steady clock).
  void prepare(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
               std::span<const std::uint32_t> groups, std::int64_t now_ms);
  // The group's distinct values, salted and hashed, into value_hashes_ (one
  // per op; empty where none).
  void hash_values(const RuleSet& rules, std::span<const FeatureOp> ops, const Group& g);
  // The script's ops argument for the group, from value_hashes_.
  void encode_ops(const FeatureDef& f, std::span<const FeatureOp> ops, Group& g) const;
  void next_stamp(std::string& out);  // a fresh stamp (see window_codec.h)
  // Sends `calls` pipelined (all writes, then all replies); finished groups
  // get their results, the rest are returned in `retry` (routing) or make
  // the status fail (connection, script errors).
  StoreStatus run_calls(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                        std::vector<Call>& calls, std::vector<Call>& retry);
  // The group's write of the engine's state succeeded (stamp matched, or
  // created): the copy now carries that stamp (and TTL time, if it set one).
  void engine_state_stored(Group& g, std::int64_t sent_ms);
  StoreStatus decode(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results, const Call& call,
                     const redisReply* r);
  static std::uint64_t fingerprint(std::span<const FeatureOp> ops);
  // A state key's name, `fs:{<digest, 22 characters of base64url>}` (27
  // characters), into `out`.
  static void key_text(const Digest& d, std::string& out);
  // Per feature of `rules`, a hash of its fingerprint.
  static std::vector<std::uint64_t> feature_fingerprints(const RuleSet& rules);
  // Takes over a stored value (the script's answer, or a GET's; nullopt: Redis
  // holds none) as the copy `c` of feature `f`: decoded with its stamp, or
  // forgotten ("?") when it is not a value this engine can compute on.
  void adopt_stored(CachedState& c, const FeatureDef& f, std::optional<std::string_view> stored);
  // Picks the announced keys worth fetching and adds their GETs to the
  // calls, on nodes that get a call anyway.
  void plan_fetches(const RuleSet& rules, std::span<const FeatureOp> ops, std::vector<Call>& calls,
                    std::span<const int> call_of_node);
  // Makes the answered fetches copies (after a successful apply; apply()
  // clears fetches_ either way).
  void install_fetches(const RuleSet& rules);
  // Runs `calls`, then the resends they ask for (redirects), up to 8 rounds.
  StoreStatus run_until_settled(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results,
                                std::vector<Call> calls);
  static std::string describe(const Node& n);  // "redis host:port"
  std::string replicas_text() const;
  StoreStatus apply_locked(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results);
  // Appends a RESP array (`*`) or bulk string (`$`) header: type, n, CRLF.
  static void append_resp_header(std::string& out, char type, std::size_t n);

  std::vector<RedisEndpoint> seeds_;
  std::string salt_;
  RedisStoreOptions options_;
  std::vector<Node> nodes_;
  std::vector<std::int16_t> slot_node_;  // cluster: node of each slot (-1: unknown)
  bool cluster_ = false;
  bool topology_known_ = false;
  std::string script_sha_;
  std::string resp_;  // the commands of the call being written (reused)
  // Share of creates that conflicted: moving average over applies that
  // created (weight 1/4 for the newest), and this apply's choice.
  double conflict_share_ = 0;
  std::uint64_t applies_without_creates_ = 0;
  bool create_this_apply_ = true;
  std::mutex mu_;
  StateCache cache_;  // the engine's copies (per batch mode; capacity cache_keys)
  std::uint64_t stamp_seed_ = 0;
  std::uint64_t stamp_counter_ = 0;
  // Per batch, reused.
  std::unordered_map<Digest, std::uint32_t, DigestHash> group_of_;  // without cache
  std::uint64_t apply_seq_ = 0;
  // The apply's groups are the first group_count_; the rest wait for reuse
  // (in place: a Group is five buffers, not moved from batch to batch).
  std::vector<Group> groups_;
  std::uint32_t group_count_ = 0;
  std::vector<char> done_;                 // per group: values received
  std::vector<std::string> value_hashes_;  // per op of the group being prepared
  std::vector<TtlArgs> ttl_args_;          // per feature, rebuilt when the pack's windows change
  std::vector<Fetch> fetches_;             // keys fetched ahead in this apply
  std::vector<Announced> taken_;           // announced keys taken by this apply
  // Announced keys waiting for an apply (prefetch() may run on any thread).
  std::mutex announced_mu_;
  std::vector<Announced> announced_;
  // A batch that failed part-way: its fingerprint, finished groups, values.
  std::uint64_t resume_fingerprint_ = 0;
  std::vector<char> resume_done_;
  std::vector<Value> resume_results_;
  std::vector<std::uint8_t> resume_late_;
  // Per op of the current apply: too late (RULES.md "Late events"), as
  // computed on the copy or reported by the script.
  std::vector<std::uint8_t> late_;
  // Nodes whose writes ran but did not reach `wait_replicas` replicas yet:
  // the retry WAITs again before it may succeed.
  std::vector<int> unreplicated_;
  FeatureStoreStats& stats_;  // the store's counters (feature_store.h)
};

}  // namespace fraud

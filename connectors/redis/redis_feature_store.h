// RedisFeatureStore: the FeatureStore on one Redis node or a Redis Cluster
// (hiredis), with exactly the semantics of MemoryFeatureStore (proven by the
// shared contract suite in tests/integration/test_feature_store_contract.cpp
// on both topologies).
//
// Layout: one string per (feature fingerprint, entity) named
// `fs:{<salted hash>}`, so one entity's state lives in one cluster slot and
// one script call updates and reads it atomically. Entity keys and distinct
// values are hashed with a secret salt (SHA-256, 128 bits kept): no raw ID
// or phone number is ever written to Redis. The 128 bits are written as 22
// characters of base64url, so a key has 27 characters (37 with hex, before
// 2026-11-29): Redis spent ~0.4 us less per SET NX PX on such keys
// (redis-benchmark, 1M fresh keys) and a key costs it ~20 bytes less.
// A key lives window + resolution after its last write, and up to 1/8
// longer: a write within that slack of the last one that set the TTL keeps
// it (SET KEEPTTL, no expiry bookkeeping in Redis); the script's own writes
// always set it.
//
// Who computes: the engine. The store keeps a copy of the states it last saw
// (up to `cache_keys` in about `cache_bytes`, evicted by CLOCK:
// connectors/redis/state_cache.h),
// applies a batch's ops to the copies with engine/window_state.h and sends
// each key's new state with the 9-byte stamp it computed on; the script
// stores it only if the stored value still carries that stamp (nobody wrote
// since), which costs Redis an MGET share and a SET per key. A key with no
// copy is computed as new (no stored value expected). When the stamp does not
// match (another engine wrote, the key expired, the copy was evicted) the
// script applies the ops itself and returns its values and the stored state,
// which replaces the copy. So a copy is only ever a guess: results are exact
// whatever it holds. Counted as keys computed by the engine or the script.
//
// Keys Redis holds no value of, by the copy (a key seen for the first time,
// the common case on a lending stream: most ID numbers, phones and devices
// are new), skip the script: the engine writes them with a plain `SET key
// state NX PX ttl` in the same pipeline, which costs Redis about half of the
// script's stamp check and store. A create that finds the key there after all
// (another engine created it, or this one forgot it: a copy evicted longer
// ago than the cache remembers, a restart) is a conflict: the script computes
// that key in a second round trip of the same apply, so values stay exact.
// The cache remembers the keys it evicted recently (state_cache.h) and sends
// those to the script straight away. A long-running engine whose working set
// is far larger than its cache still meets keys it forgot entirely; when the
// share of creates that conflict (a moving average over applies) exceeds
// kMaxConflictShare, the store stops creating and sends such keys to the
// script as before (one round trip, the script computes when the key is
// there), trying creates again on every kCreateProbeEvery-th apply (whose
// conflict share alone then decides).
//
// Keys a batch only reads and Redis holds no value of, by the copy (a
// withdrawal reading the disbursements of a customer who had none), need no
// script either: an `EXISTS key` in the same pipeline confirms the value the
// engine read on the empty copy (a lookup, where the script would turn five
// arguments into Lua strings and fetch the key with its MGET; in bench_store
// the script calls' share of Redis's CPU fell by a third). One that finds the
// key there is settled like a create that conflicts (the script, second
// round trip), and counts towards the same conflict share.
//
// Fetching ahead: a key whose copy was evicted (the cache remembers it) is
// the script's to compute, ~10-25 us of Redis CPU for a state of a few
// hundred bytes, against ~1 us for a GET and ~3 us for the stamp check and
// store of a state the engine computed. Keys of later batches announced by
// `prefetch` (the engine announces each batch once it is planned, so while
// the features stage is behind, the next batches are known before the
// current one is applied) are fetched with a plain GET at the end of the
// current apply's pipeline on the nodes it sends to anyway (no extra round
// trip), if the cache does not hold them and evicted them recently (new
// keys are created, not fetched); the value read becomes the copy (with its
// stamp), so the later apply computes that key in the engine. A copy fetched
// ahead is a guess like any other: if someone writes the key in between,
// the stamp check fails and the script computes it. At most kMaxPrefetch
// announced keys wait; more are dropped (the script computes them).
//
// One `apply` = one round trip per node: the batch's ops are grouped by
// (feature, entity) (ops kept in batch order inside a group), groups are
// routed to the node owning their key's slot, and each node gets EVALSHA
// calls of up to kGroupsPerCall keys, each computed just before it is
// written, all written before any reply is read - Redis runs one call while
// the engine computes the next. With `wait_replicas` > 0 a `WAIT` follows
// each call in the same pipeline, so a batch only succeeds once its writes
// reached that many replicas (no update lost when a master fails over).
// Salted digests of keys and distinct values can be computed beforehand on
// any thread (`digest`), keeping SHA-256 off the serial apply.
//
// Topology: the seeds are asked `CLUSTER SLOTS`; a node without cluster
// support is used alone. A routing error (MOVED, ASK, TRYAGAIN, a key the
// node no longer owns) refreshes the slot map and sends the affected groups
// again one key per call, following MOVED and ASK (with ASKING) redirects.
// Partial work of a failed call is harmless: idempotency (source partition
// offsets) makes every resend safe. When a batch fails on some nodes only,
// the groups that succeeded keep their values: the next apply of the same
// ops (the engine's retry of a batch with source positions) sends only the
// rest, so every read is the one a clean run gives. Writes that ran but did
// not reach `wait_replicas` replicas keep their values too; the retry WAITs
// for them before it may succeed. NOSCRIPT (a restarted node) reloads the
// script and retries. A node that stays unreachable is a failed StoreStatus:
// the engine's failure policy decides; the next apply re-reads the topology.
//
// `RedisCallMode::kPerOperation` is the benchmark's naive reference: one
// synchronous round trip per feature operation, same script and semantics.
//
// Signals: the constructor sets SIGPIPE to ignored if it is at its default
// (hiredis writes with write(2); a closed connection must fail a call, not
// end the process).
//
// Thread safety: one apply at a time (internal mutex).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/redis/state_cache.h"
#include "engine/feature_store.h"
#include "engine/window_state.h"

struct redisContext;
struct redisReply;

namespace fraud {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user; empty: default user
  std::string password;  // empty: no AUTH
};

// Parses `redis://[user:pass@]host:port[,host:port...]` (port defaults to
// 6379): one or more seed nodes sharing the credentials.
std::optional<std::vector<RedisEndpoint>> parse_redis_seeds(const std::string& url);
// `url` with any password replaced by "***", for messages and logs.
std::string redact_redis_url(const std::string& url);
// The first seed of `url`.
std::optional<RedisEndpoint> parse_redis_url(const std::string& url);

// The cluster hash slot of a key (CRC16 of its {hash tag}, mod 16384).
std::uint16_t redis_key_slot(std::string_view key);

enum class RedisCallMode { kPerBatch, kPerOperation };

struct RedisStoreOptions {
  int timeout_ms = 2000;
  RedisCallMode mode = RedisCallMode::kPerBatch;
  int wait_replicas = 0;  // WAIT (up to timeout_ms / 2) for this many replicas after each write
  // (feature, entity) states the engine keeps to compute on (per batch mode),
  // at most this many and, when cache_bytes > 0, at most about this much
  // memory (state_cache.h: a few hundred bytes each, more for long windows
  // and distinct sets). 0 keys: the script computes every key.
  std::size_t cache_keys = std::size_t{1} << 20;
  std::size_t cache_bytes = std::size_t{256} << 20;
};

class RedisFeatureStore final : public FeatureStore {
 public:
  RedisFeatureStore(std::vector<RedisEndpoint> seeds, std::string salt, RedisStoreOptions options = {});
  RedisFeatureStore(RedisEndpoint endpoint, std::string salt, int timeout_ms = 2000,
                    RedisCallMode mode = RedisCallMode::kPerBatch);
  ~RedisFeatureStore() override;
  RedisFeatureStore(const RedisFeatureStore&) = delete;
  RedisFeatureStore& operator=(const RedisFeatureStore&) = delete;

  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) override;
  std::string_view name() const override { return "redis"; }
  void digest(const RuleSet& rules, std::span<FeatureOp> ops) const override;
  void prefetch(const RuleSet& rules, std::span<const FeatureOp> ops) override;
  // counters() (feature_store.h) counts round trips (one per node per
  // batch in the steady state, however many calls the batch was cut into),
  // script calls (a batch's keys on one node go in calls of up to
  // kGroupsPerCall keys, written back to back, so Redis runs one while the
  // engine computes the next), who computed each key, creates and absence
  // checks and their conflicts, copies fetched ahead, routing answers and
  // topology reads.

  // Reads the topology and connects (loading the script) now; apply() also
  // does it lazily.
  StoreStatus connect();
  static constexpr std::size_t kGroupsPerCall = 256;
  // The most announced keys (prefetch) that may wait for an apply.
  static constexpr std::size_t kMaxPrefetch = 65536;
  // Whether the next apply creates new keys with SET NX and checks keys it
  // only reads with EXISTS (see above).
  bool creating() const { return conflict_share_ <= kMaxConflictShare; }
  static constexpr double kMaxConflictShare = 0.1;
  static constexpr std::uint64_t kCreateProbeEvery = 64;
  bool cluster() const { return cluster_; }
  std::size_t node_count() const { return nodes_.size(); }

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
};

}  // namespace fraud

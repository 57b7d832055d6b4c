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
// characters of base64url, so a key has 27 characters (bench/RESULTS.md has
// what the shorter names save Redis).
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
//
// The private state and its steps are in redis_store_impl.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/feature_store.h"

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

class RedisStoreImpl;  // redis_store_impl.h: the private state and steps

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
  // only reads with EXISTS (see above): while at most kMaxConflictShare of
  // creates conflict, else every kCreateProbeEvery-th apply.
  bool creating() const;
  static constexpr double kMaxConflictShare = 0.1;
  static constexpr std::uint64_t kCreateProbeEvery = 64;
  bool cluster() const;
  std::size_t node_count() const;

 private:
  std::unique_ptr<RedisStoreImpl> impl_;
};

}  // namespace fraud

// FeatureStore: where velocity-feature state lives (in process or Redis).
//
// Contract (RULES.md "Velocity feature semantics"), for every store:
//  - `apply` takes the feature operations of a batch of events, in processing
//    order, and behaves exactly as if they were applied one at a time: an
//    update of op i is visible to every read of op j >= i with the same
//    (feature, key). A read returns the aggregate over updates of that
//    (feature, key) whose bucket lies in [bucket - n + 1, bucket], n =
//    window / resolution, and which were applied before or at the read.
//  - An event's own update comes before its read (the planner orders them).
//  - Idempotency: an op carrying a source position (partition, offset) at or
//    below one already applied for that (feature, key, partition) does not
//    update again, so a redelivered event never counts twice. Its read still
//    returns the current aggregate.
//  - Lateness (RULES.md "Late events"): a key keeps the buckets
//    [newest - n - L + 1, newest] (L = FeatureDef::late_buckets; see
//    window_state.h); an op more than L buckets behind its key's newest is
//    too late: it reads the kept buckets of its window only, updates only if
//    its bucket is kept, and is listed in StoreStatus::late_ops.
//
// Errors are values: `apply` returns a StoreStatus and never throws on the
// data path. On failure no read result may be used (callers apply their
// failure policy), but updates may have been partly applied; idempotency
// makes a retry of the same ops safe.
//
// Thread safety: one `apply` at a time per store object unless the
// implementation says otherwise.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule_set.h"
#include "engine/stats.h"
#include "engine/value.h"

namespace fraud {

struct FeatureOp {
  std::uint32_t feature = 0;    // index into RuleSet::features
  std::string_view key;         // canonical entity key text (see plan.h)
  std::int64_t bucket = 0;      // floor(ts_ms / resolution_ms)
  bool update = false;          // the event passes `where`: add it
  bool read = false;            // the value is needed: fill results[i]
  Value of;                     // the aggregated field (update only)
  std::string_view of_text;     // JSON text of `of` (distinct only)
  std::int32_t partition = -1;  // source partition, -1: no idempotency check
  std::int64_t offset = -1;     // source offset
  // Store-defined identities of (feature, key) and of the distinct value,
  // filled by FeatureStore::digest (all zero: not computed; stores that use
  // them compute missing ones in apply).
  std::array<std::uint64_t, 2> key_digest{};
  std::array<std::uint64_t, 2> value_digest{};
};

struct StoreStatus {
  bool ok = true;
  std::string error;  // human text when !ok
  // ok, but the store found that it lost its data (Redis restarted empty,
  // flushed) since the previous apply: this batch's reads saw the reset
  // state. Callers report it and follow their failure policy.
  bool state_reset = false;
  // ok: the ops (indexes, ascending) whose event was too late for the
  // feature (RULES.md "Late events": its bucket more than the feature's
  // late_buckets behind its key's newest before it). Usually empty.
  std::vector<std::uint32_t> late_ops;
  static StoreStatus success() { return {}; }
  static StoreStatus failure(std::string e) { return {false, std::move(e), false, {}}; }
};

// What a store did so far, declared once (engine/stats.h): the store bumps
// these; Prometheus reads them at scrape time and /stats prints them with a
// "store_" prefix. Zero where a store has no such thing.
#define FRAUD_FEATURE_STORE_STATS(X)                                                                               \
  X(round_trips, kCounter, "fraud_feature_store_round_trips_total", "",                                            \
    "Times the feature store sent a Redis node work and waited for the answer (one per node per batch)")           \
  X(script_calls, kCounter, "fraud_feature_store_script_calls_total", "",                                          \
    "Redis script calls (a batch's keys on a node go in calls of up to 256 keys, pipelined in one round trip)")    \
  X(keys_engine_computed, kCounter, "fraud_feature_keys_total", "computed=engine",                                 \
    "(feature, entity) keys settled per batch, by who computed their new state: the engine on its copy, or the "   \
    "Redis script")                                                                                                \
  X(keys_script_computed, kCounter, "fraud_feature_keys_total", "computed=script", "")                             \
  X(keys_created, kCounter, "fraud_feature_key_creates_total", "result=created",                                   \
    "New (feature, entity) keys written with a plain SET NX instead of the script, by result: created, or "        \
    "conflict (the key was there after all: another engine created it or this one forgot it; the script computes " \
    "it in a second round trip)")                                                                                  \
  X(create_conflicts, kCounter, "fraud_feature_key_creates_total", "result=conflict", "")                          \
  X(keys_checked_absent, kCounter, "fraud_feature_absence_checks_total", "result=absent",                          \
    "(feature, entity) keys a batch only reads and the engine holds no stored value of, checked with a plain "     \
    "EXISTS instead of the script, by result: absent (the engine's reads stand), or present (the key was there "   \
    "after all; the script computes it in a second round trip)")                                                   \
  X(absence_conflicts, kCounter, "fraud_feature_absence_checks_total", "result=present", "")                       \
  X(cache_entries, kGauge, "fraud_feature_cache_entries", "",                                                      \
    "Feature states the engine keeps a copy of to compute on (at most redis.cache_keys)")                          \
  X(cache_bytes, kGauge, "fraud_feature_cache_bytes", "",                                                          \
    "Memory charged to those copies (bounded by redis.cache_mb; evictions keep it there)")                         \
  X(cache_evictions, kCounter, "fraud_feature_cache_evictions_total", "",                                          \
    "Copies of feature states dropped to make room (a dropped key's next batch is computed by the Redis script, "  \
    "unless fetched ahead)")                                                                                       \
  X(keys_prefetched, kCounter, "fraud_feature_keys_prefetched_total", "",                                          \
    "Copies of evicted feature states fetched ahead (a GET riding on the previous batch's round trip), so the "    \
    "engine computes them rather than the Redis script")                                                           \
  X(state_resets, kCounter, "fraud_feature_state_resets_total", "",                                                \
    "Times the feature store found its data lost (Redis restarted empty or flushed): velocity features restarted " \
    "from zero")                                                                                                   \
  X(distinct_overflows, kCounter, "fraud_distinct_overflows_total", "",                                            \
    "New values of distinct features not tracked because their key already tracks max_values (the feature "        \
    "saturates there)")                                                                                            \
  X(redirects, kCounter, "fraud_redis_redirects_total", "",                                                        \
    "Redis Cluster routing answers seen (MOVED, ASK, TRYAGAIN, a key not on the node asked)")                      \
  X(ask_redirects, kCounter, "fraud_redis_ask_redirects_total", "", "Of those, ASK (a slot being migrated)")       \
  X(topology_refreshes, kCounter, "fraud_redis_topology_refreshes_total", "", "Reads of the Redis Cluster topology")
FRAUD_STATS_STRUCT(FeatureStoreStats, FRAUD_FEATURE_STORE_STATS)

class FeatureStore {
 public:
  virtual ~FeatureStore() = default;
  // `results` has one slot per op; read ops get the feature value (a number,
  // or null for min/max/avg over nothing); other slots are left untouched.
  virtual StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) = 0;
  virtual std::string_view name() const = 0;
  // Precomputes what `apply` needs per op that depends on nothing but the op
  // (the Redis store: salted hashes of keys and distinct values), so callers
  // can do it on parallel threads and keep it off the serial apply. Pure: any
  // thread, concurrently with apply. Default: nothing.
  virtual void digest(const RuleSet& /*rules*/, std::span<FeatureOp> /*ops*/) const {}
  // Ops (digested) that a later apply will carry, announced as soon as they
  // are known: a store may use an apply's round trip to fetch ahead what it
  // will need for them. Only a hint: results never depend on it. Any thread,
  // concurrently with apply. Default: nothing.
  virtual void prefetch(const RuleSet& /*rules*/, std::span<const FeatureOp> /*ops*/) {}
  // Any thread, any time (relaxed atomics).
  const FeatureStoreStats& counters() const { return stats_; }

 protected:
  FeatureStoreStats stats_;
};

}  // namespace fraud

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
#include <vector>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/rule_set.h"
#include "engine/value.h"

namespace fraud {

struct FeatureOp {
  std::uint32_t feature = 0;   // index into RuleSet::features
  std::string_view key;        // canonical entity key text (see plan.h)
  std::int64_t bucket = 0;     // floor(ts_ms / resolution_ms)
  bool update = false;         // the event passes `where`: add it
  bool read = false;           // the value is needed: fill results[i]
  Value of;                    // the aggregated field (update only)
  std::string_view of_text;    // JSON text of `of` (distinct only)
  std::int32_t partition = -1; // source partition, -1: no idempotency check
  std::int64_t offset = -1;    // source offset
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

// What a store did so far (monotonic; zero where a store has no such thing).
struct FeatureStoreCounters {
  std::uint64_t round_trips = 0;   // times a remote store was sent work and awaited (per node)
  std::uint64_t script_calls = 0;  // remote script calls (several may share a round trip)
  std::uint64_t keys_engine_computed = 0;  // (feature, entity) keys whose new state this process computed
  std::uint64_t keys_script_computed = 0;  // keys a Redis script computed (no current copy here)
  std::uint64_t cache_entries = 0;         // copies of stored states held now (not monotonic)
  std::uint64_t cache_evictions = 0;       // copies dropped to make room for others
  std::uint64_t keys_created = 0;          // new keys written without a script (engine computed, of those)
  std::uint64_t create_conflicts = 0;      // creates that found the key there (then script computed)
  std::uint64_t cache_bytes = 0;           // memory the copies are charged (not monotonic)
  std::uint64_t keys_prefetched = 0;       // copies fetched ahead for a later batch (FeatureStore::prefetch)
  std::uint64_t keys_checked_absent = 0;   // keys only read, confirmed absent without a script (engine computed, of those)
  std::uint64_t absence_conflicts = 0;     // such checks that found the key there (then script computed)
  std::uint64_t state_resets = 0;          // times the store found its data lost (StoreStatus::state_reset)
  std::uint64_t distinct_overflows = 0;    // new distinct values not tracked: the key was at max_values
};

class FeatureStore {
 public:
  virtual ~FeatureStore() = default;
  // `results` has one slot per op; read ops get the feature value (a number,
  // or null for min/max/avg over nothing); other slots are left untouched.
  virtual StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops,
                            std::span<Value> results) = 0;
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
  // Read between applies (same thread rules as apply).
  virtual FeatureStoreCounters counters() const { return {}; }
};

}  // namespace fraud

// WindowState: the state of one velocity feature for one entity key, and the
// exact window semantics of RULES.md ("Velocity feature semantics") applied
// to it. One implementation shared by every store: the in-memory store keeps
// these in its tables, the Redis store computes on cached copies and writes
// them back (its Lua script is the fallback and is held to the same results
// by the contract suite).
//
// Layout: per bucket (ascending) count, numeric count, sum, min, max; for
// `distinct`, each value's buckets instead; per source partition the highest
// applied offset (idempotency); the newest bucket seen.
//
// Lateness (RULES.md "Late events"): a key keeps the buckets
// [newest - n - L + 1, newest] (n = f.buckets(), L = f.late_buckets). An event
// at most L buckets behind `newest` is exact; an older one is too late
// (window_late): it reads only kept buckets and its update is applied only if
// its bucket is kept. Older buckets are dropped (count/sum/...: at every
// update; distinct: once per window of progress, and never counted).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/event.h"
#include "engine/rule_set.h"
#include "engine/value.h"

namespace fraud {

struct WindowBucket {
  std::int64_t bucket;
  std::uint32_t count;
  std::uint32_t numeric;
  double sum;
  double min;  // +inf while numeric == 0
  double max;  // -inf while numeric == 0
};

struct WindowState {
  std::vector<WindowBucket> buckets;  // ascending by bucket; not used by distinct
  using DistinctValues = std::unordered_map<std::string, std::vector<std::int64_t>, StringHash, std::equal_to<>>;
  std::unique_ptr<DistinctValues> distinct;  // value -> its buckets (ascending); distinct features only
  std::vector<std::pair<std::int32_t, std::int64_t>> applied;  // partition -> highest offset
  std::int64_t newest = INT64_MIN;
  // Buckets `newest` advanced since the last full prune of distinct values
  // (saturating; starts due).
  std::uint16_t since_prune = UINT16_MAX;
  // The last read of a count or distinct: its bucket (newest - read_back)
  // and value, dropped when `newest` moves. Updates inside its window keep it
  // current, so a key read again and again near its newest bucket costs O(1)
  // instead of a scan of its window (at most window + lateness buckets, or
  // max_values values).
  // (16 bits hold any kept range: kMaxWindowBuckets plus its lateness.)
  static constexpr std::uint16_t kNoRead = UINT16_MAX;
  mutable std::uint16_t read_back = kNoRead;
  mutable std::uint32_t read_value = 0;

  bool empty() const { return newest == INT64_MIN && applied.empty(); }
};

// Idempotency: true if (partition, offset) is at or below the highest offset
// already applied for `partition` (then nothing may be updated); otherwise
// records it as the highest and returns false. partition < 0: never applied.
bool window_already_applied(WindowState& s, std::int32_t partition, std::int64_t offset);

// Adds one event at `bucket`. `of`: the aggregated value (numbers count for
// sum/min/max/avg); `distinct_value`: the value's identity for `distinct`
// (ignored when `of` is null). Returns false when a new distinct value was
// not tracked because the key already tracks f.max_values live values (those
// with a kept bucket): the overflow. `newest` moves to `bucket` if later.
bool window_update(WindowState& s, const FeatureDef& f, std::int64_t bucket, const Value& of,
                   std::string_view distinct_value);

// True if an event at `bucket` is too late for `s` (more than f.late_buckets
// behind its newest). Ask before window_update: the answer is the event's.
bool window_late(const WindowState& s, const FeatureDef& f, std::int64_t bucket);

// The feature's value at `bucket`: the aggregate over the kept buckets of
// [bucket - n + 1, bucket].
Value window_read(const WindowState& s, const FeatureDef& f, std::int64_t bucket);

// Empties `s` (no buckets, nothing applied) and keeps its buffers' capacity
// for reuse, except an unusually big bucket buffer, which is released.
void window_clear(WindowState& s);

// Drops every bucket (and distinct value) that is not kept: what a store
// persists.
void window_prune(WindowState& s, const FeatureDef& f);

}  // namespace fraud

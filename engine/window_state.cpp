#include "engine/window_state.h"

#include <algorithm>
#include <limits>

namespace fraud {

bool window_already_applied(WindowState& s, std::int32_t partition, std::int64_t offset) {
  if (partition < 0) return false;
  for (auto& [p, o] : s.applied) {
    if (p == partition) {
      if (offset <= o) return true;
      o = offset;
      return false;
    }
  }
  s.applied.emplace_back(partition, offset);
  return false;
}

namespace {

void prune_distinct(WindowState::DistinctValues& values, std::int64_t keep_from) {
  for (auto it = values.begin(); it != values.end();) {
    auto& bs = it->second;
    bs.erase(bs.begin(), std::lower_bound(bs.begin(), bs.end(), keep_from));
    it = bs.empty() ? values.erase(it) : std::next(it);
  }
}

}  // namespace

bool window_update(WindowState& s, const FeatureDef& f, std::int64_t b, const Value& of,
                   std::string_view distinct_value) {
  s.newest = std::max(s.newest, b);
  const std::int64_t keep_from = s.newest - f.kept_buckets() + 1;
  if (b < keep_from) return true;  // too late: its bucket is not kept
  if (f.agg == Aggregation::kDistinct) {
    if (of.is_null()) return true;
    if (!s.distinct) s.distinct = std::make_unique<WindowState::DistinctValues>();
    auto& values = *s.distinct;
    auto it = values.find(distinct_value);
    if (it != values.end() && it->second.back() < keep_from) {
      values.erase(it);  // no longer live: it comes back as a new value
      it = values.end();
    }
    if (it == values.end()) {
      if (values.size() >= f.max_values) {
        // Only live values count against the cap (the Redis script prunes
        // the same way, so both agree on what is tracked).
        prune_distinct(values, keep_from);
        s.pruned_at = s.newest;
        if (values.size() >= f.max_values) return false;
      }
      it = values.emplace(std::string(distinct_value), std::vector<std::int64_t>{}).first;
    }
    auto& v = it->second;
    auto pos = std::lower_bound(v.begin(), v.end(), b);
    if (pos == v.end() || *pos != b) v.insert(pos, b);
    if (s.newest - s.pruned_at >= f.buckets()) {
      s.pruned_at = s.newest;
      prune_distinct(values, keep_from);
    }
    return true;
  }
  auto pos = s.buckets.end();
  while (pos != s.buckets.begin() && std::prev(pos)->bucket > b) --pos;
  if (pos == s.buckets.begin() || std::prev(pos)->bucket != b) {
    pos = s.buckets.insert(pos, WindowBucket{b, 0, 0, 0, std::numeric_limits<double>::infinity(),
                                             -std::numeric_limits<double>::infinity()});
  } else {
    --pos;
  }
  pos->count += 1;
  if (of.is_number()) {
    pos->numeric += 1;
    pos->sum += of.number;
    pos->min = std::min(pos->min, of.number);
    pos->max = std::max(pos->max, of.number);
  }
  if (s.buckets.front().bucket < keep_from) {
    auto first_kept = std::find_if(s.buckets.begin(), s.buckets.end(),
                                   [&](const WindowBucket& x) { return x.bucket >= keep_from; });
    s.buckets.erase(s.buckets.begin(), first_kept);
  }
  return true;
}

bool window_late(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
  return s.newest != INT64_MIN && bucket < s.newest - f.late_buckets;
}

Value window_read(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
  // Only kept buckets count (a too-late read may see fewer than n of them,
  // and distinct values are pruned lazily).
  std::int64_t lo = bucket - f.buckets() + 1;
  if (s.newest != INT64_MIN) lo = std::max(lo, s.newest - f.kept_buckets() + 1);
  if (f.agg == Aggregation::kDistinct) {
    std::uint64_t n = 0;
    if (!s.distinct) return Value::of_number(0, true);
    for (const auto& [value, bs] : *s.distinct) {
      auto it = std::lower_bound(bs.begin(), bs.end(), lo);
      if (it != bs.end() && *it <= bucket) ++n;
    }
    return Value::of_number(static_cast<double>(n), true);
  }
  std::uint64_t count = 0, numeric = 0;
  double sum = 0, mn = std::numeric_limits<double>::infinity(), mx = -mn;
  for (const auto& b : s.buckets) {
    if (b.bucket < lo) continue;
    if (b.bucket > bucket) break;
    count += b.count;
    numeric += b.numeric;
    sum += b.sum;
    mn = std::min(mn, b.min);
    mx = std::max(mx, b.max);
  }
  switch (f.agg) {
    case Aggregation::kCount: return Value::of_number(static_cast<double>(count), true);
    case Aggregation::kSum: return Value::of_number(sum);
    case Aggregation::kMin: return numeric ? Value::of_number(mn) : Value::null();
    case Aggregation::kMax: return numeric ? Value::of_number(mx) : Value::null();
    case Aggregation::kAvg: return numeric ? Value::of_number(sum / static_cast<double>(numeric)) : Value::null();
    case Aggregation::kDistinct: break;
  }
  return Value::null();
}

void window_clear(WindowState& s) {
  // Buffers of an unusually big state are released rather than kept.
  if (s.buckets.capacity() > 256) {
    std::vector<WindowBucket>().swap(s.buckets);
  } else {
    s.buckets.clear();
  }
  s.applied.clear();
  s.distinct.reset();
  s.newest = INT64_MIN;
  s.pruned_at = INT64_MIN / 2;
}

void window_prune(WindowState& s, const FeatureDef& f) {
  if (s.newest == INT64_MIN) return;
  const std::int64_t keep_from = s.newest - f.kept_buckets() + 1;
  if (s.distinct) {
    prune_distinct(*s.distinct, keep_from);
    s.pruned_at = s.newest;
  }
  auto first_kept = std::find_if(s.buckets.begin(), s.buckets.end(),
                                 [&](const WindowBucket& x) { return x.bucket >= keep_from; });
  s.buckets.erase(s.buckets.begin(), first_kept);
}

}  // namespace fraud

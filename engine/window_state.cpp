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
  if (b > s.newest) {
    const std::int64_t advance = s.newest == INT64_MIN ? INT64_MAX : b - s.newest;
    s.since_prune = static_cast<std::uint16_t>(
        std::min<std::int64_t>(UINT16_MAX, s.since_prune + std::min<std::int64_t>(advance, UINT16_MAX)));
    s.newest = b;
    s.read_back = WindowState::kNoRead;  // the kept range moved
  }
  const std::int64_t keep_from = s.newest - f.kept_buckets() + 1;
  if (b < keep_from) return true;  // too late: its bucket is not kept
  // Inside the last read's window: keep it current.
  const std::int64_t read_bucket = s.newest - static_cast<std::int64_t>(s.read_back);
  const bool in_read = s.read_back != WindowState::kNoRead && b <= read_bucket && b > read_bucket - f.buckets();
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
        s.since_prune = 0;
        if (values.size() >= f.max_values) return false;
      }
      it = values.emplace(std::string(distinct_value), std::vector<std::int64_t>{}).first;
    }
    auto& v = it->second;
    if (in_read) {
      // Counted already if seen in the read's window (kept buckets only).
      auto seen = std::lower_bound(v.begin(), v.end(), std::max(read_bucket - f.buckets() + 1, keep_from));
      if (seen == v.end() || *seen > read_bucket) s.read_value += 1;
    }
    auto pos = std::lower_bound(v.begin(), v.end(), b);
    if (pos == v.end() || *pos != b) v.insert(pos, b);
    if (s.since_prune >= std::min<std::int64_t>(f.buckets(), UINT16_MAX)) {
      s.since_prune = 0;
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
  if (in_read) s.read_value += 1;  // only count reads are kept
  if (of.is_number()) {
    pos->numeric += 1;
    pos->sum += of.number;
    pos->min = std::min(pos->min, of.number);
    pos->max = std::max(pos->max, of.number);
  }
  if (s.buckets.front().bucket < keep_from) {
    auto first_kept =
        std::find_if(s.buckets.begin(), s.buckets.end(), [&](const WindowBucket& x) { return x.bucket >= keep_from; });
    s.buckets.erase(s.buckets.begin(), first_kept);
  }
  return true;
}

bool window_late(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
  return s.newest != INT64_MIN && bucket < s.newest - f.late_buckets;
}

namespace {

Value scan_window(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
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
    case Aggregation::kCount:
      return Value::of_number(static_cast<double>(count), true);
    case Aggregation::kSum:
      return Value::of_number(sum);
    case Aggregation::kMin:
      return numeric ? Value::of_number(mn) : Value::null();
    case Aggregation::kMax:
      return numeric ? Value::of_number(mx) : Value::null();
    case Aggregation::kAvg:
      return numeric ? Value::of_number(sum / static_cast<double>(numeric)) : Value::null();
    case Aggregation::kDistinct:
      break;
  }
  return Value::null();
}

}  // namespace

Value window_read(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
  const bool cacheable = f.agg == Aggregation::kCount || f.agg == Aggregation::kDistinct;
  const std::int64_t back = s.newest - bucket;
  if (!cacheable || s.newest == INT64_MIN || back < 0 || back >= WindowState::kNoRead) return scan_window(s, f, bucket);
  if (s.read_back != static_cast<std::uint16_t>(back)) {
    s.read_value = static_cast<std::uint32_t>(scan_window(s, f, bucket).number);
    s.read_back = static_cast<std::uint16_t>(back);
  }
  return Value::of_number(static_cast<double>(s.read_value), true);
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
  s.since_prune = UINT16_MAX;
  s.read_back = WindowState::kNoRead;
}

void window_prune(WindowState& s, const FeatureDef& f) {
  if (s.newest == INT64_MIN) return;
  const std::int64_t keep_from = s.newest - f.kept_buckets() + 1;
  if (s.distinct) {
    prune_distinct(*s.distinct, keep_from);
    s.since_prune = 0;
  }
  auto first_kept =
      std::find_if(s.buckets.begin(), s.buckets.end(), [&](const WindowBucket& x) { return x.bucket >= keep_from; });
  s.buckets.erase(s.buckets.begin(), first_kept);
}

}  // namespace fraud

#include "connectors/memory/memory_feature_store.h"

#include <algorithm>
#include <limits>

namespace fraud {

MemoryFeatureStore::Table& MemoryFeatureStore::table_for(const FeatureDef& f) {
  Table& t = tables_[f.fingerprint];
  if (t.keys.empty()) t.keys.reserve(1 << 14);
  t.window_ms = f.window_ms;
  t.resolution_ms = f.resolution_ms;
  return t;
}

bool MemoryFeatureStore::already_applied(KeyState& s, std::int32_t partition, std::int64_t offset) {
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

void MemoryFeatureStore::update(KeyState& s, const FeatureDef& f, const FeatureOp& op) {
  const std::int64_t b = op.bucket;
  s.newest = std::max(s.newest, b);
  const std::int64_t keep_from = s.newest - 2 * f.buckets() + 1;
  if (b < keep_from) return;  // later than any read that could still see it
  if (f.agg == Aggregation::kDistinct) {
    if (op.of.is_null()) return;
    if (!s.distinct) s.distinct = std::make_unique<KeyState::DistinctValues>();
    auto& values = *s.distinct;
    auto it = values.find(op.of_text);
    if (it == values.end()) it = values.emplace(std::string(op.of_text), std::vector<std::int64_t>{}).first;
    auto& v = it->second;
    auto pos = std::lower_bound(v.begin(), v.end(), b);
    if (pos == v.end() || *pos != b) v.insert(pos, b);
    if (s.newest - s.pruned_at >= f.buckets()) {
      s.pruned_at = s.newest;
      for (auto vit = values.begin(); vit != values.end();) {
        auto& bs = vit->second;
        bs.erase(bs.begin(), std::lower_bound(bs.begin(), bs.end(), keep_from));
        vit = bs.empty() ? values.erase(vit) : std::next(vit);
      }
    }
    return;
  }
  auto pos = s.buckets.end();
  while (pos != s.buckets.begin() && std::prev(pos)->bucket > b) --pos;
  if (pos == s.buckets.begin() || std::prev(pos)->bucket != b) {
    pos = s.buckets.insert(pos, Bucket{b, 0, 0, 0, std::numeric_limits<double>::infinity(),
                                       -std::numeric_limits<double>::infinity()});
  } else {
    --pos;
  }
  pos->count += 1;
  if (op.of.is_number()) {
    pos->numeric += 1;
    pos->sum += op.of.number;
    pos->min = std::min(pos->min, op.of.number);
    pos->max = std::max(pos->max, op.of.number);
  }
  if (s.buckets.front().bucket < keep_from) {
    auto first_kept = std::find_if(s.buckets.begin(), s.buckets.end(),
                                   [&](const Bucket& x) { return x.bucket >= keep_from; });
    s.buckets.erase(s.buckets.begin(), first_kept);
  }
}

Value MemoryFeatureStore::read(const KeyState& s, const FeatureDef& f, std::int64_t bucket) {
  const std::int64_t lo = bucket - f.buckets() + 1;
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

StoreStatus MemoryFeatureStore::apply(const RuleSet& rules, std::span<const FeatureOp> ops,
                                      std::span<Value> results) {
  std::lock_guard lock(mu_);
  if (cached_rules_ != &rules || cached_version_ != rules.version) {
    cache_.clear();
    for (const auto& f : rules.features) cache_.push_back(&table_for(f));
    cached_rules_ = &rules;
    cached_version_ = rules.version;
  }
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const FeatureOp& op = ops[i];
    const FeatureDef& f = rules.features[op.feature];
    Table& table = *cache_[op.feature];
    if (op.update) {
      auto it = table.keys.find(op.key);
      if (it == table.keys.end()) it = table.keys.emplace(std::string(op.key), KeyState{}).first;
      if (!already_applied(it->second, op.partition, op.offset)) {
        update(it->second, f, op);
        watermark_ms_ = std::max(watermark_ms_, op.bucket * f.resolution_ms);
        ++updates_since_sweep_;
      }
      if (op.read) results[i] = read(it->second, f, op.bucket);
    } else if (op.read) {
      auto it = table.keys.find(op.key);
      if (it == table.keys.end()) {
        static const KeyState kEmpty;
        results[i] = read(kEmpty, f, op.bucket);
      } else {
        results[i] = read(it->second, f, op.bucket);
      }
    }
  }
  if (updates_since_sweep_ > (1u << 16)) sweep();
  return StoreStatus::success();
}

void MemoryFeatureStore::sweep() {
  updates_since_sweep_ = 0;
  for (auto& [fp, table] : tables_) {
    if (table.resolution_ms <= 0) continue;
    // A key can only become idle once event time moved a window past the
    // last sweep of this table, so sweeping more often finds nothing.
    if (watermark_ms_ - table.swept_at_ms < table.window_ms) continue;
    table.swept_at_ms = watermark_ms_;
    const std::int64_t idle_before = watermark_ms_ - 2 * table.window_ms - table.resolution_ms;
    for (auto it = table.keys.begin(); it != table.keys.end();) {
      bool idle = it->second.newest != INT64_MIN && it->second.newest * table.resolution_ms < idle_before;
      it = idle ? table.keys.erase(it) : std::next(it);
    }
  }
}

std::size_t MemoryFeatureStore::key_count() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [fp, t] : tables_) n += t.keys.size();
  return n;
}

}  // namespace fraud

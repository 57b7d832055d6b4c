#include "connectors/memory/memory_feature_store.h"

#include <algorithm>

namespace fraud {

MemoryFeatureStore::Table& MemoryFeatureStore::table_for(const FeatureDef& f) {
  Table& t = tables_[f.fingerprint];
  if (t.keys.empty()) t.keys.reserve(1 << 14);
  t.window_ms = f.window_ms;
  t.kept_ms = f.kept_buckets() * f.resolution_ms;
  t.resolution_ms = f.resolution_ms;
  return t;
}

StoreStatus MemoryFeatureStore::apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) {
  std::lock_guard lock(mu_);
  if (cached_rules_ != &rules || cached_version_ != rules.version) {
    cache_.clear();
    for (const auto& f : rules.features) cache_.push_back(&table_for(f));
    cached_rules_ = &rules;
    cached_version_ = rules.version;
  }
  StoreStatus status = StoreStatus::success();
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const FeatureOp& op = ops[i];
    const FeatureDef& f = rules.features[op.feature];
    Table& table = *cache_[op.feature];
    if (op.update) {
      auto it = table.keys.find(op.key);
      if (it == table.keys.end()) it = table.keys.emplace(std::string(op.key), WindowState{}).first;
      if (window_late(it->second, f, op.bucket)) status.late_ops.push_back(static_cast<std::uint32_t>(i));
      if (!window_already_applied(it->second, op.partition, op.offset)) {
        if (!window_update(it->second, f, op.bucket, op.of, op.of_text)) stats_.distinct_overflows.add();
        watermark_ms_ = std::max(watermark_ms_, op.bucket * f.resolution_ms);
        ++updates_since_sweep_;
      }
      if (op.read) results[i] = window_read(it->second, f, op.bucket);
    } else if (op.read) {
      auto it = table.keys.find(op.key);
      if (it == table.keys.end()) {
        static const WindowState kEmpty;
        results[i] = window_read(kEmpty, f, op.bucket);
      } else {
        if (window_late(it->second, f, op.bucket)) status.late_ops.push_back(static_cast<std::uint32_t>(i));
        results[i] = window_read(it->second, f, op.bucket);
      }
    }
  }
  if (updates_since_sweep_ > (1u << 16)) sweep();
  return status;
}

void MemoryFeatureStore::sweep() {
  updates_since_sweep_ = 0;
  for (auto& [fp, table] : tables_) {
    if (table.resolution_ms <= 0) continue;
    // A key can only become idle once event time moved a window past the
    // last sweep of this table, so sweeping more often finds nothing.
    if (watermark_ms_ - table.swept_at_ms < table.window_ms) continue;
    table.swept_at_ms = watermark_ms_;
    const std::int64_t idle_before = watermark_ms_ - table.kept_ms - table.resolution_ms;
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

// MemoryFeatureStore: the in-process FeatureStore (replay, rule tests, the
// embedded default, and the reference the Redis store is tested against).
//
// State is kept per feature fingerprint and entity key as a WindowState
// (engine/window_state.h: the window semantics live there). Keys idle for two
// windows of event time are swept, so memory is bounded by live keys.
//
// Thread safety: `apply` takes an internal mutex; concurrent batches are
// serialised in call order.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/feature_store.h"
#include "engine/window_state.h"

namespace fraud {

class MemoryFeatureStore final : public FeatureStore {
 public:
  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) override;
  std::string_view name() const override { return "memory"; }

  // Number of live entity keys across all features (for tests and metrics).
  std::size_t key_count() const;

 private:
  struct Table {
    std::unordered_map<std::string, WindowState, StringHash, std::equal_to<>> keys;
    std::int64_t window_ms = 0;
    std::int64_t kept_ms = 0;  // window + max_lateness: a key idle longer is dropped
    std::int64_t resolution_ms = 0;
    std::int64_t swept_at_ms = INT64_MIN / 2;  // watermark at the last sweep
  };

  Table& table_for(const FeatureDef& f);
  void sweep();

  mutable std::mutex mu_;
  std::unordered_map<std::string, Table> tables_;  // by feature fingerprint
  const RuleSet* cached_rules_ = nullptr;
  std::string cached_version_;
  std::vector<Table*> cache_;
  std::int64_t watermark_ms_ = INT64_MIN;
  std::uint64_t updates_since_sweep_ = 0;
};

}  // namespace fraud

// MemoryFeatureStore: the in-process FeatureStore (replay, rule tests, the
// embedded default, and the reference the Redis store is tested against).
//
// State is kept per feature fingerprint and entity key as a short sorted
// vector of buckets (count, numeric count, sum, min, max) plus, for
// `distinct`, each value's buckets. Reads combine the buckets of the window
// ending at the event's bucket, so out-of-order events get exact values.
// Buckets older than two windows behind the newest bucket of their key are
// dropped; keys idle for two windows of event time are swept, so memory is
// bounded by live keys.
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

namespace fraud {

class MemoryFeatureStore final : public FeatureStore {
 public:
  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops,
                    std::span<Value> results) override;
  std::string_view name() const override { return "memory"; }

  // Number of live entity keys across all features (for tests and metrics).
  std::size_t key_count() const;

 private:
  struct Bucket {
    std::int64_t bucket;
    std::uint32_t count;
    std::uint32_t numeric;
    double sum;
    double min;
    double max;
  };
  struct KeyState {
    std::vector<Bucket> buckets;  // ascending by bucket
    using DistinctValues = std::unordered_map<std::string, std::vector<std::int64_t>, StringHash, std::equal_to<>>;
    std::unique_ptr<DistinctValues> distinct;  // value -> its buckets; distinct features only
    std::vector<std::pair<std::int32_t, std::int64_t>> applied;  // partition -> highest offset
    std::int64_t newest = INT64_MIN;
    std::int64_t pruned_at = INT64_MIN / 2;  // newest bucket at the last full prune
  };
  struct Table {
    std::unordered_map<std::string, KeyState, StringHash, std::equal_to<>> keys;
    std::int64_t window_ms = 0;
    std::int64_t resolution_ms = 0;
    std::int64_t swept_at_ms = INT64_MIN / 2;  // watermark at the last sweep
  };

  Table& table_for(const FeatureDef& f);
  static bool already_applied(KeyState& s, std::int32_t partition, std::int64_t offset);
  static void update(KeyState& s, const FeatureDef& f, const FeatureOp& op);
  static Value read(const KeyState& s, const FeatureDef& f, std::int64_t bucket);
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

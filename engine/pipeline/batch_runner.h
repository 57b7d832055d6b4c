// BatchRunner: the pipeline's stages (BatchStages) run synchronously on the
// calling thread, one batch at a time, for callers that look at a batch's
// verdicts and feature values directly: rule-semantics and store-contract
// tests, the chaos suite's recomputation, benchmarks of one stage. There is
// no second batch loop: parse, features and evaluate are the production
// stages, with the production failure handling (StoreStatus in the batch).
//
// A batch is prepared (parsed, planned, digested, announced to the store for
// prefetch) and then finished (one store round trip, rules evaluated).
// Preparing a later batch before finishing this one is how the streaming
// pipeline overlaps them; run() does both at once.
//
// Lifetime: a record's bytes must stay valid until its batch is finished; a
// batch's verdicts and feature values stay valid until it is prepared again.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/feature_store.h"
#include "engine/metrics.h"
#include "engine/pipeline/batch_stages.h"
#include "engine/pipeline/clock.h"
#include "engine/pipeline/pipeline_batch.h"
#include "engine/pipeline/pipeline_config.h"

namespace fraud {

class BatchRunner {
 public:
  struct Options {
    bool read_all_features = false;  // compute every feature of the type (rule tests)
    bool idempotent = false;         // pass source positions to the store
    bool encode_verdicts = true;     // fill PipelineBatch::encoded
    // What a store failure does: fail_open (the default) returns after one
    // attempt with the error in `store_status` and verdicts marked degraded.
    StoreFailurePolicy failure_policy = StoreFailurePolicy::kFailOpen;
    std::string source_name = "t";  // verdicts' source.topic
  };

  explicit BatchRunner(FeatureStore& store) : BatchRunner(store, Options{}) {}
  BatchRunner(FeatureStore& store, Options options);
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  // A batch owned by the caller, for prepare/finish.
  std::unique_ptr<PipelineBatch> new_batch() const;
  // The parse stage over `records` under `rules`.
  void prepare(PipelineBatch& batch, const std::shared_ptr<const RuleSet>& rules,
               std::span<const SourceRecord> records);
  // The features and evaluate stages. Returns the store's answer.
  const StoreStatus& finish(PipelineBatch& batch);
  // prepare + finish on the runner's own batch.
  const PipelineBatch& run(const std::shared_ptr<const RuleSet>& rules, std::span<const SourceRecord> records);

  // Records of JSON texts, positions partition:first_offset onwards.
  static std::vector<SourceRecord> records_of(std::span<const std::string> lines, std::int32_t partition = 0,
                                              std::int64_t first_offset = 0);

  const PipelineCounters& counters() const { return counters_; }

 private:
  Options options_;
  PipelineConfig config_;
  EngineMetrics metrics_;
  PipelineCounters counters_;
  std::atomic<bool> stopping_{false};
  BatchStages stages_;
  std::unique_ptr<PipelineBatch> own_;
  // The pack whose series were bound last (tests switch packs between runs).
  std::shared_ptr<const RuleSet> bound_rules_;
  std::shared_ptr<const RuleSetMetrics> rule_metrics_;
  std::shared_ptr<RuleHitCounts> hit_counts_;
};

}  // namespace fraud

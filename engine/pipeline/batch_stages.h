// BatchStages: the one batch loop of the codebase, as the pipeline's stages.
//
//   parse     (parallel)          bytes -> Event or a dead-letter reason; plan
//                                 the feature ops; store digests; prefetch
//   features  (serial, in order)  one store round trip, under the failure
//                                 policy; late ops marked
//   evaluate  (parallel)          models (one predict per model), rules ->
//                                 Verdict, encoded JSON, tallies
//
// Every mode runs these (Kafka, replay, diff, rule tests, backtest), through
// Pipeline; nothing else in the tree applies features or evaluates a batch.
#pragma once

#include <atomic>
#include <string_view>

#include "engine/feature_store.h"
#include "engine/metrics.h"
#include "engine/pipeline/clock.h"
#include "engine/pipeline/pipeline_batch.h"
#include "engine/pipeline/pipeline_config.h"

namespace fraud {

class BatchStages {
 public:
  BatchStages(const PipelineConfig& config, std::string_view source_name, FeatureStore& store, EngineMetrics& metrics,
              PipelineCounters& counters, Clock& clock, const std::atomic<bool>& stopping)
      : config_(config),
        source_name_(source_name),
        store_(store),
        metrics_(metrics),
        counters_(counters),
        clock_(clock),
        stopping_(stopping) {}

  void parse(PipelineBatch& b);
  // Policy `pause`: retries until the store answers or the pipeline stops
  // (then the batch is marked failed and never produced).
  void features(PipelineBatch& b);
  void evaluate(PipelineBatch& b);

 private:
  const PipelineConfig& config_;
  std::string_view source_name_;
  FeatureStore& store_;
  EngineMetrics& metrics_;
  PipelineCounters& counters_;
  Clock& clock_;
  const std::atomic<bool>& stopping_;
};

}  // namespace fraud

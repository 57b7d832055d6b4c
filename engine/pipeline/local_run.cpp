#include "engine/pipeline/local_run.h"

namespace fraud {

int run_to_end(const PipelineConfig& config, const RuleSet& rules, EventSource& source, VerdictSink& sink,
               FeatureStore& store) {
  EngineMetrics metrics(std::string(source.name()));
  PipelineCounters counters;
  Pipeline pipeline(config, borrowed(rules), source, sink, store, metrics, counters);
  return pipeline.run();
}

}  // namespace fraud

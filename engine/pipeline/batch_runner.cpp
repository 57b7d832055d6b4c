#include "engine/pipeline/batch_runner.h"

namespace fraud {

namespace {
PipelineConfig config_of(const BatchRunner::Options& o) {
  PipelineConfig c;
  c.read_all_features = o.read_all_features;
  c.idempotent = o.idempotent;
  c.encode_verdicts = o.encode_verdicts;
  c.failure_policy = o.failure_policy;
  return c;
}
}  // namespace

BatchRunner::BatchRunner(FeatureStore& store, Options options)
    : options_(std::move(options)),
      config_(config_of(options_)),
      metrics_(options_.source_name),
      stages_(config_, options_.source_name, store, metrics_, counters_, SystemClock::instance(), stopping_),
      own_(new_batch()) {}

std::unique_ptr<PipelineBatch> BatchRunner::new_batch() const {
  return std::make_unique<PipelineBatch>(
      BatchProcessor::Options{.read_all_features = config_.read_all_features, .idempotent = config_.idempotent});
}

void BatchRunner::prepare(PipelineBatch& batch, const std::shared_ptr<const RuleSet>& rules,
                          std::span<const SourceRecord> records) {
  if (rules != bound_rules_) {
    rule_metrics_ = metrics_.bind_rules(*rules);
    hit_counts_ = std::make_shared<RuleHitCounts>(rules->rules.size());
    bound_rules_ = rules;
  }
  batch.reset();
  batch.rules = rules;
  batch.rule_metrics = rule_metrics_;
  batch.hit_counts = hit_counts_;
  batch.records.assign(records.begin(), records.end());
  stages_.parse(batch);
}

const StoreStatus& BatchRunner::finish(PipelineBatch& batch) {
  stages_.features(batch);
  stages_.evaluate(batch);
  return batch.store_status;
}

const PipelineBatch& BatchRunner::run(const std::shared_ptr<const RuleSet>& rules,
                                      std::span<const SourceRecord> records) {
  prepare(*own_, rules, records);
  finish(*own_);
  return *own_;
}

std::vector<SourceRecord> BatchRunner::records_of(std::span<const std::string> lines, std::int32_t partition,
                                                  std::int64_t first_offset) {
  std::vector<SourceRecord> out(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out[i].value = lines[i];
    out[i].partition = partition;
    out[i].offset = first_offset + static_cast<std::int64_t>(i);
  }
  return out;
}

}  // namespace fraud

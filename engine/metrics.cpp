#include "engine/metrics.h"

namespace fraud {

namespace {

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Histogram>& histogram(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

const char* const kDlqReasons[] = {"too_large",     "invalid_json",      "not_object",     "missing_field",
                                   "invalid_field", "verdict_too_large", "output_rejected"};

}  // namespace

EngineMetrics::EngineMetrics(std::string input_topic)
    : end_to_end_latency(histogram(*registry_, "fraud_end_to_end_latency_seconds",
                                   "Kafka timestamp of an event to its verdict acknowledged by the broker")
                             .Add({}, latency_buckets())),
      feature_store_latency(
          histogram(*registry_, "fraud_feature_store_latency_seconds", "Duration of one feature store round trip")
              .Add({}, latency_buckets())),
      batch_buffers(gauge(*registry_, "fraud_batch_buffers",
                          "Batches with their events' buffers allocated (being filled, queued for the pipeline, in "
                          "it, or pooled): at most 2 x pipeline.max_in_flight + 2 in the steady state")
                        .Add({})),
      consumer_lag(
          gauge(*registry_, "fraud_consumer_lag_messages", "Messages behind the high watermark, per partition")),
      rules_reloads(counter(*registry_, "fraud_rules_reloads_total", "Rule pack loads by result")),
      input_topic_(std::move(input_topic)),
      events_family_(counter(*registry_, "fraud_events_consumed_total", "Events consumed, by topic and event type")),
      rule_hits_family_(counter(*registry_, "fraud_rule_hits_total", "Rule matches by rule and mode")),
      late_events_family_(counter(*registry_, "fraud_late_events_total",
                                  "Events too late for a feature (more than its max_lateness behind the key's "
                                  "newest event; the verdict lists it in late_features), by feature")),
      model_scores_family_(histogram(*registry_, "fraud_model_score",
                                     "Scores a model gave, by model (count: events scored; the distribution "
                                     "shows drift)")),
      rules_info_family_(
          gauge(*registry_, "fraud_rules_info", "The loaded rule pack (value 1 on the current version)")) {
  auto& dlq = counter(*registry_, "fraud_dlq_records_total", "Messages sent to the dead-letter topic, by reason");
  for (const char* r : kDlqReasons) dlq_.emplace(r, &dlq.Add({{"reason", r}}));
  auto& stages = histogram(*registry_, "fraud_stage_latency_seconds", "Time a batch spends in each pipeline stage");
  const char* names[] = {"parse", "features", "evaluate", "produce"};
  for (int s = 0; s < kStageCount; ++s) stage_latency_[s] = &stages.Add({{"stage", names[s]}}, latency_buckets());
  for (const char* result : {"success", "error"}) rules_reloads.Add({{"result", result}});
  gauge(*registry_, "fraud_build_info", "Build information").Add({{"version", "0.1.0"}}).Set(1);
}

std::vector<prometheus::MetricFamily> EngineMetrics::collect() const {
  std::vector<prometheus::MetricFamily> out = registry_->Collect();
  std::lock_guard lock(sources_mu_);
  for (const auto& [owner, source] : sources_) source(out);
  return out;
}

void EngineMetrics::add_scrape_source(const void* owner,
                                      std::function<void(std::vector<prometheus::MetricFamily>&)> source) {
  std::lock_guard lock(sources_mu_);
  sources_.emplace_back(owner, std::move(source));
}

void EngineMetrics::remove_scrape_source(const void* owner) {
  std::lock_guard lock(sources_mu_);
  std::erase_if(sources_, [&](const auto& s) { return s.first == owner; });
}

prometheus::Counter& EngineMetrics::dlq(std::string_view reason) {
  auto it = dlq_.find(reason);
  return it != dlq_.end() ? *it->second : *dlq_.at("invalid_json");
}

std::shared_ptr<const RuleSetMetrics> EngineMetrics::bind_rules(const RuleSet& rules) {
  std::lock_guard lock(bind_mu_);
  auto m = std::make_shared<RuleSetMetrics>();
  for (const auto& r : rules.rules) {
    m->rule_hits.push_back(&rule_hits_family_.Add({{"rule", r.name}, {"mode", r.shadow ? "shadow" : "enforce"}}));
  }
  for (const auto& f : rules.features) m->late_events.push_back(&late_events_family_.Add({{"feature", f.name}}));
  for (const auto& model : rules.models) {
    m->model_scores.push_back(&model_scores_family_.Add(
        {{"model", model.name}},
        prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99}));
  }
  for (const auto& [type, plan] : rules.by_type) {
    m->events_by_type.emplace(type, &events_family_.Add({{"topic", input_topic_}, {"event_type", type}}));
  }
  m->events_other_type = &events_family_.Add({{"topic", input_topic_}, {"event_type", "other"}});
  if (current_rules_info_) current_rules_info_->Set(0);
  current_rules_info_ = &rules_info_family_.Add({{"version", rules.version.substr(0, 12)}});
  current_rules_info_->Set(1);
  return m;
}

}  // namespace fraud

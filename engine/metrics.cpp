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

const char* const kDlqReasons[] = {"too_large", "invalid_json", "not_object", "missing_field", "invalid_field",
                               "verdict_too_large", "output_rejected"};

}  // namespace

EngineMetrics::EngineMetrics(std::string input_topic)
    : end_to_end_latency(histogram(*registry_, "fraud_end_to_end_latency_seconds",
                                   "Kafka timestamp of an event to its verdict acknowledged by the broker")
                             .Add({}, latency_buckets())),
      feature_store_requests(counter(*registry_, "fraud_feature_store_requests_total",
                                     "Feature store requests (one per batch, and one per retry)")
                                 .Add({})),
      feature_store_errors(
          counter(*registry_, "fraud_feature_store_errors_total", "Feature store round trips that failed").Add({})),
      feature_store_round_trips(counter(*registry_, "fraud_feature_store_round_trips_total",
                                        "Times the feature store sent a Redis node work and waited for the answer "
                                        "(one per node per batch)")
                                    .Add({})),
      feature_store_script_calls(counter(*registry_, "fraud_feature_store_script_calls_total",
                                         "Redis script calls (a batch's keys on a node go in calls of up to 256 "
                                         "keys, pipelined in one round trip)")
                                     .Add({})),
      feature_keys(counter(*registry_, "fraud_feature_keys_total",
                           "(feature, entity) keys settled per batch, by who computed their new state: the engine "
                           "on its copy, or the Redis script")),
      feature_keys_engine_computed(feature_keys.Add({{"computed", "engine"}})),
      feature_keys_script_computed(feature_keys.Add({{"computed", "script"}})),
      feature_key_creates(counter(*registry_, "fraud_feature_key_creates_total",
                                  "New (feature, entity) keys written with a plain SET NX instead of the script, by "
                                  "result: created, or conflict (the key was there after all: another engine created "
                                  "it or this one forgot it; the script computes it in a second round trip)")),
      feature_keys_created(feature_key_creates.Add({{"result", "created"}})),
      feature_create_conflicts(feature_key_creates.Add({{"result", "conflict"}})),
      feature_absence_checks(counter(*registry_, "fraud_feature_absence_checks_total",
                                     "(feature, entity) keys a batch only reads and the engine holds no stored value "
                                     "of, checked with a plain EXISTS instead of the script, by result: absent (the "
                                     "engine's reads stand), or present (the key was there after all; the script "
                                     "computes it in a second round trip)")),
      feature_keys_checked_absent(feature_absence_checks.Add({{"result", "absent"}})),
      feature_absence_conflicts(feature_absence_checks.Add({{"result", "present"}})),
      feature_cache_entries(gauge(*registry_, "fraud_feature_cache_entries",
                                  "Feature states the engine keeps a copy of to compute on (at most redis.cache_keys)")
                                .Add({})),
      feature_cache_bytes(gauge(*registry_, "fraud_feature_cache_bytes",
                                "Memory charged to those copies (bounded by redis.cache_mb; evictions keep it there)")
                              .Add({})),
      feature_cache_evictions(counter(*registry_, "fraud_feature_cache_evictions_total",
                                      "Copies of feature states dropped to make room (a dropped key's next batch is "
                                      "computed by the Redis script, unless fetched ahead)")
                                  .Add({})),
      feature_keys_prefetched(counter(*registry_, "fraud_feature_keys_prefetched_total",
                                      "Copies of evicted feature states fetched ahead (a GET riding on the previous "
                                      "batch's round trip), so the engine computes them rather than the Redis script")
                                  .Add({})),
      feature_store_latency(histogram(*registry_, "fraud_feature_store_latency_seconds",
                                      "Duration of one feature store round trip")
                                .Add({}, latency_buckets())),
      batches_in_flight(gauge(*registry_, "fraud_batches_in_flight",
                              "Batches between poll and offset store (produced ones wait for the broker's "
                              "acknowledgements holding only their offsets)")
                            .Add({})),
      batch_buffers(gauge(*registry_, "fraud_batch_buffers",
                          "Batches with their events' buffers allocated (being filled, queued for the pipeline, in "
                          "it, or pooled): at most 2 x pipeline.max_in_flight + 2 in the steady state")
                        .Add({})),
      batches(counter(*registry_, "fraud_batches_total", "Batches processed").Add({})),
      rebalances(counter(*registry_, "fraud_rebalances_total", "Consumer group rebalances seen").Add({})),
      degraded_verdicts(counter(*registry_, "fraud_degraded_verdicts_total",
                                "Verdicts made without features (fail_open / fail_closed)")
                            .Add({})),
      future_events(counter(*registry_, "fraud_future_events_total",
                            "Events whose ts was more than settings.max_future ahead of their record time: their "
                            "features used record time + max_future (the verdict says ts_clamped_from)")
                        .Add({})),
      feature_state_resets(counter(*registry_, "fraud_feature_state_resets_total",
                                   "Times the feature store found its data lost (Redis restarted empty or flushed): "
                                   "velocity features restarted from zero")
                               .Add({})),
      distinct_overflows(counter(*registry_, "fraud_distinct_overflows_total",
                                 "New values of distinct features not tracked because their key already tracks "
                                 "max_values (the feature saturates there)")
                             .Add({})),
      produce_errors(counter(*registry_, "fraud_produce_errors_total", "Verdict or DLQ deliveries that failed").Add({})),
      consumer_lag(gauge(*registry_, "fraud_consumer_lag_messages", "Messages behind the high watermark, per partition")),
      rules_reloads(counter(*registry_, "fraud_rules_reloads_total", "Rule pack loads by result")),
      input_topic_(std::move(input_topic)),
      events_family_(counter(*registry_, "fraud_events_consumed_total", "Events consumed, by topic and event type")),
      rule_hits_family_(counter(*registry_, "fraud_rule_hits_total", "Rule matches by rule and mode")),
      late_events_family_(counter(*registry_, "fraud_late_events_total",
                                  "Events too late for a feature (more than its max_lateness behind the key's "
                                  "newest event; the verdict lists it in late_features), by feature")),
      rules_info_family_(gauge(*registry_, "fraud_rules_info", "The loaded rule pack (value 1 on the current version)")) {
  auto& verdicts = counter(*registry_, "fraud_verdicts_total", "Verdicts produced, by decision");
  for (int d = 0; d < 3; ++d) {
    verdicts_[d] = &verdicts.Add({{"decision", std::string(decision_name(static_cast<Decision>(d)))}});
  }
  auto& dlq = counter(*registry_, "fraud_dlq_records_total", "Messages sent to the dead-letter topic, by reason");
  for (const char* r : kDlqReasons) dlq_.emplace(r, &dlq.Add({{"reason", r}}));
  auto& stages = histogram(*registry_, "fraud_stage_latency_seconds", "Time a batch spends in each pipeline stage");
  const char* names[] = {"parse", "features", "evaluate", "produce"};
  for (int s = 0; s < kStageCount; ++s) stage_latency_[s] = &stages.Add({{"stage", names[s]}}, latency_buckets());
  for (const char* result : {"success", "error"}) rules_reloads.Add({{"result", result}});
  gauge(*registry_, "fraud_build_info", "Build information").Add({{"version", "0.1.0"}}).Set(1);
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

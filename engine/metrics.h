// EngineMetrics: every Prometheus series of the engine, declared in one
// place (Envoy's stats-macro / Redpanda probe style).
//
// Conventions: prefix `fraud_`, base units (seconds, bytes), `_total`
// counters, histograms not summaries, bounded labels only (decisions, rule
// names and modes, event types the pack names plus "other", DLQ reasons,
// stages) - never an id of a customer, device or event. Every labelled series
// is created at setup (initialised to 0) and cached as a reference, so the
// hot path only increments; `Family::Add` (which locks) is never called per
// event. Rule series are created per loaded pack by `bind_rules`.
//
// Thread safety: counters and histograms are thread-safe; bind_rules() must
// not run concurrently with itself (the reloader calls it once per pack).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/rule_set.h"

namespace fraud {

// The per-pack series: rule hits by (rule, mode) and events by type.
struct RuleSetMetrics {
  std::vector<prometheus::Counter*> rule_hits;  // by rule index
  std::vector<prometheus::Counter*> late_events;  // by feature index
  std::unordered_map<std::string, prometheus::Counter*, StringHash, std::equal_to<>> events_by_type;
  prometheus::Counter* events_other_type = nullptr;
  prometheus::Counter& events_of_type(std::string_view type) const {
    auto it = events_by_type.find(type);
    return it == events_by_type.end() ? *events_other_type : *it->second;
  }
};

class EngineMetrics {
  // Declared first: every family below registers into it.
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();

 public:
  enum Stage { kParse, kFeatures, kEvaluate, kProduce, kStageCount };

  explicit EngineMetrics(std::string input_topic = "events");

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // Series for a newly loaded pack (kept for the process lifetime, so a rule
  // that disappears keeps its last value rather than vanishing mid-scrape).
  std::shared_ptr<const RuleSetMetrics> bind_rules(const RuleSet& rules);

  prometheus::Counter& verdicts(Decision d) { return *verdicts_[static_cast<int>(d)]; }
  prometheus::Counter& dlq(std::string_view reason);
  prometheus::Histogram& stage_latency(Stage s) { return *stage_latency_[s]; }

  prometheus::Histogram& end_to_end_latency;
  prometheus::Counter& feature_store_requests;
  prometheus::Counter& feature_store_errors;
  prometheus::Counter& feature_store_round_trips;
  prometheus::Counter& feature_store_script_calls;
  prometheus::Family<prometheus::Counter>& feature_keys;  // by who computed: engine | script
  prometheus::Counter& feature_keys_engine_computed;
  prometheus::Counter& feature_keys_script_computed;
  prometheus::Family<prometheus::Counter>& feature_key_creates;  // by result: created | conflict
  prometheus::Counter& feature_keys_created;
  prometheus::Counter& feature_create_conflicts;
  prometheus::Family<prometheus::Counter>& feature_absence_checks;  // by result: absent | present
  prometheus::Counter& feature_keys_checked_absent;
  prometheus::Counter& feature_absence_conflicts;
  prometheus::Gauge& feature_cache_entries;
  prometheus::Gauge& feature_cache_bytes;
  prometheus::Counter& feature_cache_evictions;
  prometheus::Counter& feature_keys_prefetched;
  prometheus::Histogram& feature_store_latency;
  prometheus::Gauge& batches_in_flight;
  prometheus::Gauge& batch_buffers;
  prometheus::Counter& batches;
  prometheus::Counter& rebalances;
  prometheus::Counter& degraded_verdicts;
  prometheus::Counter& future_events;
  prometheus::Counter& feature_state_resets;
  prometheus::Counter& distinct_overflows;
  prometheus::Counter& produce_errors;
  prometheus::Family<prometheus::Gauge>& consumer_lag;
  prometheus::Family<prometheus::Counter>& rules_reloads;

 private:
  std::string input_topic_;
  prometheus::Family<prometheus::Counter>& events_family_;
  prometheus::Family<prometheus::Counter>& rule_hits_family_;
  prometheus::Family<prometheus::Counter>& late_events_family_;
  prometheus::Family<prometheus::Gauge>& rules_info_family_;
  std::array<prometheus::Counter*, 3> verdicts_{};
  std::map<std::string, prometheus::Counter*, std::less<>> dlq_;
  std::array<prometheus::Histogram*, kStageCount> stage_latency_{};
  prometheus::Gauge* current_rules_info_ = nullptr;
  std::mutex bind_mu_;
};

}  // namespace fraud

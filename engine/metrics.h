// EngineMetrics: the engine's Prometheus registry. Plain counters and gauges
// live in their component's stats list (engine/stats.h: the pipeline's in
// pipeline_config.h, the feature store's in feature_store.h), read at scrape
// time through a scrape source; this class declares the rest once:
// histograms and the families labelled by the loaded pack or by DLQ reason.
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
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/rule_set.h"

namespace fraud {

// The per-pack series: rule hits by (rule, mode) and events by type.
struct RuleSetMetrics {
  std::vector<prometheus::Counter*> rule_hits;       // by rule index
  std::vector<prometheus::Counter*> late_events;     // by feature index
  std::vector<prometheus::Histogram*> model_scores;  // by model index: every score given
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

  prometheus::Counter& dlq(std::string_view reason);
  prometheus::Histogram& stage_latency(Stage s) { return *stage_latency_[s]; }

  // Every family for a scrape: the registry's, then each scrape source's.
  std::vector<prometheus::MetricFamily> collect() const;
  // Adds families at scrape time (a component's stats list, engine/stats.h:
  // read where they are counted, nothing copied per batch). `owner` removes
  // them; sources run under a lock, so removal waits for a running scrape.
  void add_scrape_source(const void* owner, std::function<void(std::vector<prometheus::MetricFamily>&)> source);
  void remove_scrape_source(const void* owner);

  prometheus::Histogram& end_to_end_latency;
  prometheus::Histogram& feature_store_latency;
  prometheus::Gauge& batch_buffers;
  prometheus::Family<prometheus::Gauge>& consumer_lag;
  prometheus::Family<prometheus::Counter>& rules_reloads;

 private:
  std::string input_topic_;
  prometheus::Family<prometheus::Counter>& events_family_;
  prometheus::Family<prometheus::Counter>& rule_hits_family_;
  prometheus::Family<prometheus::Counter>& late_events_family_;
  prometheus::Family<prometheus::Histogram>& model_scores_family_;
  prometheus::Family<prometheus::Gauge>& rules_info_family_;
  std::map<std::string, prometheus::Counter*, std::less<>> dlq_;
  std::array<prometheus::Histogram*, kStageCount> stage_latency_{};
  prometheus::Gauge* current_rules_info_ = nullptr;
  std::mutex bind_mu_;
  mutable std::mutex sources_mu_;
  std::vector<std::pair<const void*, std::function<void(std::vector<prometheus::MetricFamily>&)>>> sources_;
};

}  // namespace fraud

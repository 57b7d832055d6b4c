// Replay: the offline engine. Reads events (JSON lines) in file order,
// evaluates them with the in-memory store, writes one verdict per valid
// event, and collects the figures of the run.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/cli/score_metrics.h"
#include "engine/feature_store.h"
#include "engine/rule_set.h"
#include "engine/value.h"

namespace fraud {

struct ReplayOptions {
  std::size_t batch_size = 4096;
  std::string source_name = "replay";  // the `source.topic` of verdicts
  std::size_t max_event_bytes = 1 << 20;
  std::size_t max_reported_errors = 100;  // invalid lines printed individually
  // Backtest: the slot of the label field (0/1, true/false); load the pack
  // with PackLoadOptions::extra_fields = {label} to have one.
  std::optional<std::uint32_t> label_slot;
  // The slot of the field holding each event's record time (integer ms or
  // RFC 3339; `--record-time`), for the settings.max_future check as live
  // (the Kafka record timestamp there). None: no check.
  std::optional<std::uint32_t> record_time_slot;
  std::int64_t timeline_bucket_ms = 3'600'000;  // rule hits over event time
};

// Ground truth of one event: 1, 0, or unknown.
std::optional<bool> label_of(const Value& v);

struct ReplayStats {
  std::uint64_t lines = 0;
  std::uint64_t events = 0;  // valid events, one verdict each
  std::uint64_t invalid = 0;
  std::uint64_t decisions[3] = {0, 0, 0};
  std::vector<std::uint64_t> rule_hits;  // by rule index (either mode)
  std::map<std::string, std::uint64_t> invalid_by_reason;
  std::uint64_t late_ops = 0;  // (event, feature) pairs too late (RULES.md "Late events")
  std::uint64_t clamped = 0;   // events evaluated at record time + max_future
  std::uint64_t degraded = 0;  // verdicts evaluated without features (store errors)
  double seconds = 0;

  // Backtest (label_slot set).
  bool labelled_run = false;
  std::uint64_t labelled = 0;                              // events with a usable label
  std::uint64_t positives = 0;                             // label 1
  std::vector<std::uint64_t> rule_true_hits;               // hits on label-1 events, by rule
  std::vector<std::uint64_t> rule_labelled_hits;           // hits on labelled events
  std::uint64_t flagged_labelled = 0, flagged_true = 0;    // decision review or decline
  std::uint64_t declined_labelled = 0, declined_true = 0;  // decision decline
  // Per model: (score, label) of every labelled event it scored.
  std::vector<std::vector<ScoredLabel>> model_scores;
  // Rule hits per event-time bucket: bucket start (ms) -> hits by rule.
  std::map<std::int64_t, std::vector<std::uint64_t>> timeline;
};

// Runs the replay. Verdicts go to `verdicts` (one JSON object per line),
// invalid lines are reported on `errors` as "line N: reason: detail".
ReplayStats replay_events(const RuleSet& rules, FeatureStore& store, std::istream& events, std::ostream* verdicts,
                          std::ostream& errors, const ReplayOptions& options);

// The thresholds the pack's rules compare a model's score with
// (`m >= 0.9`, `0.5 < m`), ascending.
std::vector<double> model_thresholds(const RuleSet& rules, std::uint32_t model);

// The end-of-run table: events, decisions by kind, hits per rule, events/s;
// in a backtest, each model's PR-AUC and precision/recall at its rules'
// thresholds.
std::string format_replay_table(const RuleSet& rules, const ReplayStats& stats);

}  // namespace fraud

// Replay: the offline engine. Reads events (JSON lines) in file order,
// evaluates them with the in-memory store, writes one verdict per valid
// event, and collects the figures of the run.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "engine/feature_store.h"
#include "engine/rule_set.h"

namespace fraud {

struct ReplayOptions {
  std::size_t batch_size = 4096;
  std::string source_name = "replay";  // the `source.topic` of verdicts
  std::size_t max_event_bytes = 1 << 20;
  std::size_t max_reported_errors = 100;  // invalid lines printed individually
};

struct ReplayStats {
  std::uint64_t lines = 0;
  std::uint64_t events = 0;   // valid events, one verdict each
  std::uint64_t invalid = 0;
  std::uint64_t decisions[3] = {0, 0, 0};
  std::vector<std::uint64_t> rule_hits;  // by rule index (either mode)
  std::map<std::string, std::uint64_t> invalid_by_reason;
  double seconds = 0;
};

// Runs the replay. Verdicts go to `verdicts` (one JSON object per line),
// invalid lines are reported on `errors` as "line N: reason: detail".
ReplayStats replay_events(const RuleSet& rules, FeatureStore& store, std::istream& events,
                          std::ostream* verdicts, std::ostream& errors, const ReplayOptions& options);

// The end-of-run table: events, decisions by kind, hits per rule, events/s.
std::string format_replay_table(const RuleSet& rules, const ReplayStats& stats);

}  // namespace fraud

// Rule tests: the fraud team's cases in `<pack>/tests/*.yaml`.
//
// File format (every key is checked; unknown keys are errors):
//
//   cases:
//     - name: three identities on one device decline      # required
//       events:                                           # fed in order to a
//         - {event_id: a1, event_type: loan_application,  # fresh in-memory
//            ts: "2026-03-01T10:00:00Z", device_id: D1}   # store
//       expect:
//         - event_id: a1          # optional: defaults to the last event
//           decision: decline     # allow | review | decline
//           score: 60
//           rules: [device_shared_by_ids]   # exactly these enforce rules
//           shadow_rules: []                # exactly these shadow rules
//           matched: [x]                    # at least these (either mode)
//           not_matched: [y]                # none of these (either mode)
//           features: {ids_per_device_24h: 3}
//           reasons: {device_shared_by_ids: "device used by 3 ID numbers in 24h"}
//           models: {fraud_model: [0.8, 1]}  # score in range; a number; null: not scored
//
// Events without `event_id` get "<n>" (1-based position in the case).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/rule_set.h"

namespace fraud {

struct RuleTestReport {
  int passed = 0;
  int failed = 0;
  int errors = 0;      // malformed test files/cases
  std::string output;  // human-readable report
};

// Runs every tests/*.yaml case under `tests_dir` against `rules`.
RuleTestReport run_rule_tests(const RuleSet& rules, const std::filesystem::path& tests_dir);

}  // namespace fraud

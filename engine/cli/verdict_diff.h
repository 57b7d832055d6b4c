// Verdict diff: what a candidate pack would change. Both packs replay the
// same events (each with its own in-memory store) and every event's
// decisions are compared: how many change, in which direction, which rules
// cause it, and sample event ids per direction.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "engine/rule_set.h"

namespace fraud {

struct RuleChange {
  std::uint64_t gained = 0;  // changed events this rule matches only under the candidate
  std::uint64_t lost = 0;    // changed events this rule matched only under the base
  std::uint64_t base_hits = 0;
  std::uint64_t candidate_hits = 0;
};

struct DiffResult {
  std::string base_version, candidate_version;
  std::uint64_t events = 0;
  std::uint64_t invalid = 0;
  std::uint64_t changed = 0;                                  // decision differs
  std::uint64_t score_changed = 0;                            // score differs
  std::array<std::array<std::uint64_t, 3>, 3> transitions{};  // [base][candidate]
  std::map<std::string, RuleChange> rules;
  std::map<std::pair<int, int>, std::vector<std::string>> samples;  // event ids
};

DiffResult diff_verdicts(const RuleSet& base, const RuleSet& candidate, std::istream& events, std::ostream& errors,
                         std::size_t max_samples = 5);

std::string format_diff_text(const DiffResult& d);
std::string format_diff_json(const DiffResult& d);

}  // namespace fraud

// The backtest page of `replay --label F --report FILE.html`: one
// self-contained HTML file (inline CSS and SVG, no scripts, no fonts, no
// external links) with the per-rule and pack figures and, for each rule, a
// chart of its hits over event time.
#pragma once

#include <string>

#include "engine/cli/replay.h"

namespace fraud {

std::string backtest_html(const RuleSet& rules, const ReplayStats& stats, const std::string& title);

}  // namespace fraud

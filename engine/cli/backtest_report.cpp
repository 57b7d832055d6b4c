#include "engine/cli/backtest_report.h"

#include <algorithm>
#include <cstdio>

namespace fraud {

namespace {

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string utc_hour(std::int64_t ms) {
  std::int64_t secs = ms / 1000;
  std::int64_t days = secs / 86400;
  // civil from days (Howard Hinnant)
  days += 719468;
  std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  unsigned doe = static_cast<unsigned>(days - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02lld:00", static_cast<long long>(y), m, d,
                static_cast<long long>((secs % 86400 + 86400) % 86400 / 3600));
  return buf;
}

// A bar chart of one rule's hits per timeline bucket.
std::string chart(const ReplayStats& s, std::size_t rule) {
  const int w = 520, h = 60;
  std::uint64_t peak = 1;
  for (const auto& [t, hits] : s.timeline) peak = std::max(peak, hits[rule]);
  std::size_t n = std::max<std::size_t>(1, s.timeline.size());
  double bw = static_cast<double>(w) / static_cast<double>(n);
  std::string svg = "<svg width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(h) + "\" viewBox=\"0 0 " +
                    std::to_string(w) + " " + std::to_string(h) +
                    "\" role=\"img\"><rect width=\"100%\" height=\"100%\" fill=\"#f6f7f9\"/>";
  std::size_t i = 0;
  for (const auto& [t, hits] : s.timeline) {
    double bh = static_cast<double>(hits[rule]) / static_cast<double>(peak) * (h - 4);
    if (hits[rule]) {
      svg += "<rect x=\"" + fmt("%.2f", static_cast<double>(i) * bw) + "\" y=\"" + fmt("%.2f", h - bh) + "\" width=\"" +
             fmt("%.2f", std::max(1.0, bw - 0.5)) + "\" height=\"" + fmt("%.2f", bh) + "\" fill=\"#3566c4\"><title>" +
             utc_hour(t) + ": " + std::to_string(hits[rule]) + "</title></rect>";
    }
    ++i;
  }
  svg += "</svg>";
  return svg;
}

}  // namespace

std::string backtest_html(const RuleSet& rules, const ReplayStats& s, const std::string& title) {
  auto ratio = [](std::uint64_t a, std::uint64_t b) {
    return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
  };
  std::string h = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
                  "</title><style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}"
                  "table{border-collapse:collapse;margin:12px 0}td,th{padding:4px 10px;border-bottom:1px solid #dde1e8;"
                  "text-align:right}td:first-child,th:first-child{text-align:left}th{background:#eef1f6}"
                  ".shadow{color:#7a6a00}.small{color:#5d6678;font-size:12px}</style></head><body>";
  h += "<h1>" + esc(title) + "</h1>";
  h += "<p class=\"small\">rules version " + esc(rules.version) + "</p>";
  h += "<table><tr><th>events</th><th>labelled</th><th>positives</th><th>review rate</th><th>decline "
       "rate</th></tr><tr><td>" +
       std::to_string(s.events) + "</td><td>" + std::to_string(s.labelled) + "</td><td>" + std::to_string(s.positives) +
       "</td><td>" + fmt("%.3f%%", 100 * ratio(s.decisions[1], s.events)) + "</td><td>" +
       fmt("%.3f%%", 100 * ratio(s.decisions[2], s.events)) + "</td></tr></table>";
  h += "<h2>Rules</h2><table><tr><th>rule</th><th>mode</th><th>hits</th><th>TP</th><th>FP</th><th>precision</th>"
       "<th>recall</th><th>hits over event time (hourly)</th></tr>";
  for (std::size_t r = 0; r < rules.rules.size(); ++r) {
    std::uint64_t tp = s.rule_true_hits[r], lab = s.rule_labelled_hits[r];
    h += std::string("<tr") + (rules.rules[r].shadow ? " class=\"shadow\"" : "") + "><td>" + esc(rules.rules[r].name) +
         "</td><td>" + (rules.rules[r].shadow ? "shadow" : "enforce") + "</td><td>" + std::to_string(s.rule_hits[r]) +
         "</td><td>" + std::to_string(tp) + "</td><td>" + std::to_string(lab - tp) + "</td><td>" +
         fmt("%.3f", ratio(tp, lab)) + "</td><td>" + fmt("%.3f", ratio(tp, s.positives)) + "</td><td>" + chart(s, r) +
         "</td></tr>";
  }
  h += "<tr><td><b>pack: review or decline</b></td><td></td><td>" + std::to_string(s.decisions[1] + s.decisions[2]) +
       "</td><td>" + std::to_string(s.flagged_true) + "</td><td>" +
       std::to_string(s.flagged_labelled - s.flagged_true) + "</td><td>" +
       fmt("%.3f", ratio(s.flagged_true, s.flagged_labelled)) + "</td><td>" +
       fmt("%.3f", ratio(s.flagged_true, s.positives)) + "</td><td></td></tr>";
  h += "<tr><td><b>pack: decline</b></td><td></td><td>" + std::to_string(s.decisions[2]) + "</td><td>" +
       std::to_string(s.declined_true) + "</td><td>" + std::to_string(s.declined_labelled - s.declined_true) +
       "</td><td>" + fmt("%.3f", ratio(s.declined_true, s.declined_labelled)) + "</td><td>" +
       fmt("%.3f", ratio(s.declined_true, s.positives)) + "</td><td></td></tr></table>";
  if (!s.timeline.empty()) {
    h += "<p class=\"small\">timeline from " + utc_hour(s.timeline.begin()->first) + " to " +
         utc_hour(s.timeline.rbegin()->first) + " UTC, one bar per hour; each chart is scaled to its own peak.</p>";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace fraud

#include "engine/cli/paysim.h"

#include <charconv>
#include <cstdint>
#include <vector>

#include "engine/value.h"

namespace fraud {

namespace {

constexpr std::int64_t kEpochMs = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

std::optional<double> number(std::string_view s) {
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return d;
}

}  // namespace

std::optional<std::string> paysim_row_to_event(std::string_view line, std::uint64_t row, std::string& error) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  std::vector<std::string_view> cols;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = line.find(',', start);
    cols.push_back(line.substr(start, comma == std::string_view::npos ? comma : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (cols.size() != 11) {
    error = "expected 11 columns, got " + std::to_string(cols.size());
    return std::nullopt;
  }
  static const char* kNames[] = {"step",           "type",           "amount",        "nameOrig",
                                 "oldbalanceOrg",  "newbalanceOrig", "nameDest",      "oldbalanceDest",
                                 "newbalanceDest", "isFraud",        "isFlaggedFraud"};
  auto step = number(cols[0]);
  if (!step || *step < 1) {
    error = "bad step '" + std::string(cols[0]) + "'";
    return std::nullopt;
  }
  std::string type(cols[1]);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::int64_t ts =
      kEpochMs + (static_cast<std::int64_t>(*step) - 1) * 3'600'000 + static_cast<std::int64_t>(row % 3'600'000);
  std::string out = "{\"event_id\":\"ps-" + std::to_string(row) + "\",\"event_type\":";
  append_json_string(out, type);
  out += ",\"ts\":" + std::to_string(ts) + ",\"step\":" + std::to_string(static_cast<std::int64_t>(*step));
  for (int i = 2; i < 11; ++i) {
    out += ",\"";
    out += kNames[i];
    out += "\":";
    if (i == 3 || i == 6) {
      append_json_string(out, cols[i]);
      continue;
    }
    auto v = number(cols[i]);
    if (!v) {
      error = std::string("bad ") + kNames[i] + " '" + std::string(cols[i]) + "'";
      return std::nullopt;
    }
    if (i >= 9) {
      out += *v != 0 ? "1" : "0";
    } else {
      append_number(out, *v);
    }
  }
  out += "}";
  return out;
}

}  // namespace fraud

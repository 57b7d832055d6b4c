#include "bench/e2e_probes.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "bench/redis_info.h"
#include "tests/integration/kafka_helpers.h"

namespace fraud::e2e {

namespace {
std::uint64_t json_u64(const std::string& body, const std::string& name) {
  auto p = body.find("\"" + name + "\":");
  return p == std::string::npos ? 0 : std::stoull(body.substr(p + name.size() + 3));
}

}  // namespace

std::optional<Stats> read_stats(int port) {
  std::string body = fraud::testing::http_get(port, "/stats");
  if (body.empty()) return std::nullopt;
  Stats s;
  s.at = std::chrono::steady_clock::now();
  s.acked = json_u64(body, "acked");
  s.batches = json_u64(body, "batches");
  s.store_round_trips = json_u64(body, "store_round_trips");
  auto p = body.find("\"latency\":[");
  if (p != std::string::npos) {
    std::istringstream in(body.substr(p + 11));
    char c;
    int bucket;
    std::uint64_t count;
    while (in >> c && c == '[' && in >> bucket >> c >> count >> c) {
      if (bucket >= 0 && bucket < LatencyRecorder::kBuckets) s.latency[bucket] = count;
      in >> c;  // ',' or ']'
      if (c == ']') break;
    }
  }
  return s;
}

double quantile_ms(const Stats& a, const Stats& b, double q) {
  std::uint64_t total = 0;
  for (int i = 0; i < LatencyRecorder::kBuckets; ++i) total += b.latency[i] - a.latency[i];
  if (!total) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
  std::uint64_t seen = 0;
  for (int i = 0; i < LatencyRecorder::kBuckets; ++i) {
    seen += b.latency[i] - a.latency[i];
    if (seen >= rank) return LatencyRecorder::upper(i) * 1000;
  }
  return 0;
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double status_mb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(std::strlen(field))) / 1024.0;
  }
  return 0;
}

RedisUsage redis_usage(const std::vector<int>& ports) {
  RedisUsage u;
  for (int port : ports) {
    u.cpu_s += bench::redis_cpu_seconds(port);
    u.script_calls += bench::info_number(bench::redis_info(port, "commandstats"), "cmdstat_evalsha:calls=");
  }
  return u;
}

}  // namespace fraud::e2e

#include "engine/cli/ops_endpoints.h"

#include <prometheus/text_serializer.h>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>

namespace fraud {

namespace {

// process_cpu_seconds_total, process_resident_memory_bytes and
// process_start_time_seconds from /proc, as the Prometheus client libraries
// of other languages export them (prometheus-cpp does not).
std::vector<prometheus::MetricFamily> process_families() {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
  // After the command: state(0) ... utime(11) stime(12) ... starttime(19) ... rss(21)
  if (f.size() < 22) return out;
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  auto family = [&](const char* name, const char* help, prometheus::MetricType type, double value) {
    prometheus::MetricFamily fam;
    fam.name = name;
    fam.help = help;
    fam.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    fam.metric.push_back(m);
    out.push_back(fam);
  };
  family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
         prometheus::MetricType::Counter, (std::stod(f[11]) + std::stod(f[12])) / ticks);
  family("process_resident_memory_bytes", "Resident memory size in bytes.", prometheus::MetricType::Gauge,
         std::stod(f[21]) * page);
  std::ifstream up("/proc/uptime");
  double uptime = 0;
  up >> uptime;
  double boot = static_cast<double>(std::time(nullptr)) - uptime;
  family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
         prometheus::MetricType::Gauge, boot + std::stod(f[19]) / ticks);
  return out;
}

}  // namespace

std::unique_ptr<HttpServer> serve_ops_endpoints(int port, EngineMetrics& metrics, const StreamEngine& engine,
                                                double stuck_after_s) {
  if (port <= 0) return nullptr;
  std::map<std::string, HttpServer::Handler> routes;
  routes["/metrics"] = [&metrics] {
    std::ostringstream out;
    auto families = metrics.collect();
    for (auto& f : process_families()) families.push_back(std::move(f));
    prometheus::TextSerializer().Serialize(out, families);
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", out.str()};
  };
  routes["/healthz"] = [&engine, stuck_after_s] {
    std::int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    std::int64_t beat = engine.counters().poll_heartbeat_ms.load();
    double age = beat > 0 ? static_cast<double>(now - beat) / 1000.0 : 0.0;
    bool stuck = engine.running() && beat > 0 && age > stuck_after_s;
    bool failed = engine.counters().failed.load();
    std::string body = std::string("{\"status\":\"") +
                       (failed  ? "failed"
                        : stuck ? "stuck"
                                : "ok") +
                       "\",\"poll_loop_age_seconds\":" + std::to_string(age) + "}\n";
    return HttpResponse{stuck || failed ? 503 : 200, "application/json", body};
  };
  routes["/readyz"] = [&engine] {
    const auto& c = engine.counters();
    bool assigned = c.assigned_partitions.load() > 0;
    bool store = c.store_ok.load();
    std::string body = std::string("{\"ready\":") + (assigned && store ? "true" : "false") +
                       ",\"assigned_partitions\":" + std::to_string(c.assigned_partitions.load()) +
                       ",\"feature_store\":\"" + (store ? "ok" : "unreachable") + "\"}\n";
    return HttpResponse{assigned && store ? 200 : 503, "application/json", body};
  };
  routes["/rules"] = [&engine] {
    auto rules = engine.rules();
    std::string body = "{\"version\":";
    append_json_string(body, rules->version);
    body += ",\"rules\":" + std::to_string(rules->rules.size()) +
            ",\"features\":" + std::to_string(rules->features.size()) + ",\"files\":[";
    for (std::size_t i = 0; i < rules->files.size(); ++i) {
      if (i) body += ",";
      body += "{\"path\":";
      append_json_string(body, rules->files[i].path);
      body += ",\"sha256\":";
      append_json_string(body, rules->files[i].sha256);
      body += "}";
    }
    body += "]}\n";
    return HttpResponse{200, "application/json", body};
  };
  routes["/stats"] = [&engine] {
    // Live counters and the end-to-end latency histogram (sparse
    // [bucket, count] pairs of LatencyRecorder; bucket i ends at
    // LatencyRecorder::upper(i) seconds), for load benches that need exact
    // percentiles over a time window: take two snapshots, subtract.
    const auto& c = engine.counters();
    std::string body = "{\"assigned_partitions\":" + std::to_string(c.assigned_partitions.load());
    engine.append_stats_json(body);
    body += ",\"latency\":[";
    LatencyRecorder::Snapshot snap = c.end_to_end.snapshot();
    bool first = true;
    for (int i = 0; i < LatencyRecorder::kBuckets; ++i) {
      if (!snap[i]) continue;
      body += first ? "[" : ",[";
      first = false;
      body += std::to_string(i) + "," + std::to_string(snap[i]) + "]";
    }
    body += "]}\n";
    return HttpResponse{200, "application/json", body};
  };
  return std::make_unique<HttpServer>(port, std::move(routes));
}

}  // namespace fraud

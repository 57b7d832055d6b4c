#include "engine/cli/ops_endpoints.h"

#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>

namespace fraud {

std::unique_ptr<HttpServer> serve_ops_endpoints(int port, EngineMetrics& metrics, const StreamEngine& engine,
                                                double stuck_after_s) {
  if (port <= 0) return nullptr;
  std::map<std::string, HttpServer::Handler> routes;
  routes["/metrics"] = [&metrics] {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, metrics.registry()->Collect());
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", out.str()};
  };
  routes["/healthz"] = [&engine, stuck_after_s] {
    std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now().time_since_epoch())
                           .count();
    std::int64_t beat = engine.counters().poll_heartbeat_ms.load();
    double age = beat > 0 ? static_cast<double>(now - beat) / 1000.0 : 0.0;
    bool stuck = engine.running() && beat > 0 && age > stuck_after_s;
    std::string body = std::string("{\"status\":\"") + (stuck ? "stuck" : "ok") +
                       "\",\"poll_loop_age_seconds\":" + std::to_string(age) + "}\n";
    return HttpResponse{stuck ? 503 : 200, "application/json", body};
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
    body += ",\"rules\":" + std::to_string(rules->rules.size()) + ",\"features\":" +
            std::to_string(rules->features.size()) + ",\"files\":[";
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
  return std::make_unique<HttpServer>(port, std::move(routes));
}

}  // namespace fraud

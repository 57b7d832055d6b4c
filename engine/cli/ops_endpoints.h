// The SRE endpoints of a running engine, served by connectors/http:
//   /metrics  Prometheus text format (every series of EngineMetrics)
//   /healthz  200 while the process lives and its poll loop turns (watchdog:
//             503 "stuck" if the loop has not turned for `stuck_after_s`)
//   /readyz   200 when partitions are assigned and the feature store answers
//   /rules    the loaded pack: version, files with sha256, rule count (JSON)
//   /stats    live counters and the exact end-to-end latency histogram (JSON,
//             for load benches)
#pragma once

#include <memory>

#include "connectors/http/http_server.h"
#include "connectors/kafka/stream_engine.h"
#include "engine/metrics.h"

namespace fraud {

std::unique_ptr<HttpServer> serve_ops_endpoints(int port, EngineMetrics& metrics, const StreamEngine& engine,
                                                double stuck_after_s = 30);

}  // namespace fraud

// What bench_e2e reads off the processes it measures: an engine's /stats
// (acknowledged records, batches, round trips, its exact latency histogram),
// a process's CPU time and memory from /proc, and Redis's CPU and script
// calls from INFO.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/latency_recorder.h"

namespace fraud::e2e {

struct Stats {
  std::uint64_t acked = 0, batches = 0, store_round_trips = 0;
  LatencyRecorder::Snapshot latency{};
  std::chrono::steady_clock::time_point at;
};

// The engine's /stats on 127.0.0.1:port (nullopt: no answer).
std::optional<Stats> read_stats(int port);
// Quantile (ms) of what the engine recorded between two snapshots.
double quantile_ms(const Stats& a, const Stats& b, double q);

// User + system CPU seconds of a process.
double process_cpu_seconds(pid_t pid);
// A /proc/PID/status field in kB ("VmRSS:", "VmHWM:"), as MB.
double status_mb(pid_t pid, const char* field);

struct RedisUsage {
  double cpu_s = 0;
  double script_calls = 0;
};
// Summed over the nodes (one, or a cluster's masters).
RedisUsage redis_usage(const std::vector<int>& ports);

}  // namespace fraud::e2e

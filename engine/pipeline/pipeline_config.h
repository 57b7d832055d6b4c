// What the pipeline is told: batching, parallelism, limits and the feature
// store failure policy. One struct for every mode (Kafka, replay, tests).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/latency_recorder.h"

namespace fraud {

// What the engine does while the feature store (Redis) fails:
//  kPause       keep retrying; no verdict without features, positions stay,
//               so consumption stops (liveness stays green, readiness red);
//  kFailOpen    evaluate without features (they read null): rules that need
//               no features still decide; verdicts carry `degraded: true`;
//  kFailClosed  as fail_open, but the decision is at least `decline`.
// Feature updates of degraded batches are not applied.
enum class StoreFailurePolicy { kPause, kFailOpen, kFailClosed };
std::optional<StoreFailurePolicy> parse_failure_policy(std::string_view s);

struct PipelineConfig {
  std::size_t batch_size = 2000;
  // How long a batch may wait to fill while earlier batches are still
  // ahead of the features stage (natural batching: an idle pipeline takes
  // what is at hand at once).
  int batch_wait_ms = 5;
  std::size_t max_in_flight = 4;  // batches in the pipeline at once (and queued for it)
  int threads = 0;                // worker threads (oneTBB); 0: one per core
  std::size_t max_event_bytes = 1 << 20;
  int store_retry_ms = 500;  // wait between feature store retries (policy: pause)
  StoreFailurePolicy failure_policy = StoreFailurePolicy::kPause;
  bool read_all_features = false;  // rule tests: compute every feature of the type
  bool idempotent = true;          // pass source positions to the store
  bool encode_verdicts = true;     // fill VerdictOut::json
  // Replay's --record-time: the record time is this event field (a slot of
  // the pack's field table), not the source's.
  std::optional<std::uint32_t> record_time_field;
};

// Live figures, cheap to read (the demo summary, /stats, tests). The sink
// counts what it sends; the pipeline the rest.
struct PipelineCounters {
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<std::uint64_t> verdicts{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> batches{0};  // batches handed to the sink
  std::atomic<std::uint64_t> decisions[3] = {0, 0, 0};
  std::atomic<std::uint64_t> store_failures{0};
  std::atomic<std::uint64_t> store_round_trips{0};  // the store's counters, as of the last batch
  std::atomic<std::uint64_t> store_script_calls{0};
  std::atomic<std::int64_t> assigned_partitions{0};
  std::atomic<std::int64_t> poll_heartbeat_ms{0};  // steady-clock ms of the poll loop's last turn
  std::atomic<bool> store_ok{true};                // the last feature store round trip succeeded
  std::atomic<bool> failed{false};                 // a fatal error: the engine is stopping (healthz red)
  LatencyRecorder end_to_end;                      // record timestamp -> output acknowledged
};

}  // namespace fraud

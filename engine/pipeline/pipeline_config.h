// What the pipeline is told: batching, parallelism, limits and the feature
// store failure policy. One struct for every mode (Kafka, replay, tests).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/latency_recorder.h"
#include "engine/rule_set.h"
#include "engine/stats.h"

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

// The pipeline's stats, declared once (engine/stats.h): the pipeline, its
// source and its sink bump them; Prometheus reads them at scrape time and
// /stats prints them. The sink counts what it sends; the pipeline the rest.
#define FRAUD_PIPELINE_STATS(X)                                                                                    \
  X(consumed, kCounter, "fraud_records_polled_total", "", "Records taken from the source (events or not)")         \
  X(verdicts, kCounter, "", "", "")     /* verdicts handed to the sink (fraud_verdicts_total: by decision) */      \
  X(dead_letters, kCounter, "", "", "") /* dead letters handed to the sink (fraud_dlq_records_total: by reason) */ \
  X(acked, kCounter, "fraud_records_acknowledged_total", "",                                                       \
    "Output records (verdicts and dead letters) the output acknowledged")                                          \
  X(allowed, kCounter, "fraud_verdicts_total", "decision=allow", "Verdicts produced, by decision")                 \
  X(reviewed, kCounter, "fraud_verdicts_total", "decision=review", "")                                             \
  X(declined, kCounter, "fraud_verdicts_total", "decision=decline", "")                                            \
  X(batches, kCounter, "fraud_batches_total", "", "Batches handed to the sink")                                    \
  X(store_requests, kCounter, "fraud_feature_store_requests_total", "",                                            \
    "Feature store requests (one per batch, and one per retry)")                                                   \
  X(store_failures, kCounter, "fraud_feature_store_errors_total", "", "Feature store round trips that failed")     \
  X(degraded_verdicts, kCounter, "fraud_degraded_verdicts_total", "",                                              \
    "Verdicts made without features (fail_open / fail_closed) or on lost feature state")                           \
  X(future_events, kCounter, "fraud_future_events_total", "",                                                      \
    "Events whose ts was more than settings.max_future ahead of their record time: their features used record "    \
    "time + max_future (the verdict says ts_clamped_from)")                                                        \
  X(produce_errors, kCounter, "fraud_produce_errors_total", "", "Verdict or DLQ deliveries that failed")           \
  X(rebalances, kCounter, "fraud_rebalances_total", "", "Consumer group rebalances seen")                          \
  X(transactions, kCounter, "fraud_kafka_transactions_total", "",                                                  \
    "Kafka transactions committed (kafka.delivery: exactly_once)")                                                 \
  X(transaction_commit_us, kCounter, "", "", "") /* time spent committing them, us (/stats only) */                \
  X(batches_in_flight, kGauge, "fraud_batches_in_flight", "",                                                      \
    "Batches between poll and offset store (produced ones wait for the acknowledgements holding only their "       \
    "offsets)")
FRAUD_STATS_STRUCT(PipelineStats, FRAUD_PIPELINE_STATS)

// Live figures, cheap to read (the demo summary, /stats, tests): the stats
// above, and the state the health checks read.
struct PipelineCounters : PipelineStats {
  Stat& decision(Decision d) { return d == Decision::kAllow ? allowed : d == Decision::kReview ? reviewed : declined; }
  std::atomic<std::int64_t> assigned_partitions{0};
  std::atomic<std::int64_t> poll_heartbeat_ms{0};  // steady-clock ms of the poll loop's last turn
  std::atomic<bool> store_ok{true};                // the last feature store round trip succeeded
  std::atomic<bool> failed{false};                 // a fatal error: the engine is stopping (healthz red)
  LatencyRecorder end_to_end;                      // record timestamp -> output acknowledged
};

}  // namespace fraud

// StreamEngine: the production graph. Kafka in, feature store, rules,
// verdicts and dead letters out, offsets stored only behind acknowledged
// output.
//
//   poll thread      consumer group (cooperative-sticky) -> batches of up to
//                    `batch_size` messages (or `batch_wait_ms`)
//   oneTBB pipeline  (up to `max_in_flight` batches at once)
//     parse          parallel: JSON -> Event, or a dead-letter reason
//     features       serial, in order: plan ops, one store round trip
//     evaluate       parallel: rules, verdict JSON
//     produce        serial, in order: verdicts to the output topic (same
//                    key), dead letters to the DLQ topic (original bytes,
//                    key, headers + dlq.* headers)
//   ack tracker      when the broker acknowledged every record of a batch and
//                    of all batches before it, the batch's offsets are stored
//                    (auto-commit sends them; a final commit on stop).
// Memory: a batch is recycled as soon as it is produced (librdkafka holds
// copies of the records); until the broker acknowledges them only its
// offsets and one 16-byte slot per record wait. So at most 2 x max_in_flight
// + 2 batches hold events' buffers (being filled, queued for the pipeline,
// in it), however slow the acknowledgements; those are bounded by the
// producer's queue (queue.buffering.max.messages).
//
// Guarantees: every consumed message ends as one verdict or one DLQ record
// before its offset can be committed. Feature updates carry the source
// partition/offset, so a redelivery after a crash never counts twice.
// On partition revocation the engine drains in-flight batches and commits
// before giving the partitions up. Rules can be swapped between batches.
//
// Thread safety: run() blocks the calling thread; stop(), swap_rules() and
// the counters may be used from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <string>

#include "engine/feature_store.h"
#include "engine/latency_recorder.h"
#include "engine/metrics.h"
#include "engine/rule_set.h"

namespace fraud {

// What the engine does while the feature store (Redis) fails:
//  kPause       keep retrying; no verdict without features, offsets stay, so
//               consumption stops (liveness stays green, readiness goes red);
//  kFailOpen    evaluate without features (they read null): rules that need
//               no features still decide; verdicts carry `degraded: true`;
//  kFailClosed  as fail_open, but the decision is at least `decline`.
// Feature updates of degraded batches are not applied.
enum class StoreFailurePolicy { kPause, kFailOpen, kFailClosed };
std::optional<StoreFailurePolicy> parse_failure_policy(std::string_view s);

struct StreamConfig {
  std::string bootstrap;
  std::string group = "fraudstream";
  std::string input_topic = "loan-events";
  std::string output_topic = "verdicts";
  std::string dlq_topic = "verdicts-dlq";
  std::map<std::string, std::string> kafka_properties;  // pass-through (SASL, SSL...)
  std::size_t batch_size = 2000;
  int batch_wait_ms = 5;
  // fetch.wait.max.ms of the consumer: how long a broker may hold a fetch
  // that finds no data. A real broker answers as soon as data arrives; the
  // embedded one (librdkafka's mock) holds it the whole time, so this is
  // latency there. Shorter also means more fetches, and the embedded broker
  // walks its partition log (longer as it fills) on each: the bench's short
  // fixed-rate windows use 2, the demo keeps 10.
  int fetch_wait_ms = 10;
  std::size_t max_in_flight = 4;  // batches in the pipeline at once (and queued for it)
  int threads = 0;  // pipeline worker threads (oneTBB); 0: one per core
  std::size_t max_event_bytes = 1 << 20;
  // Largest record produced (key + value + headers); 0: the smaller of the
  // producer's message.max.bytes and the topics' max.message.bytes.
  std::size_t max_record_bytes = 0;
  int statistics_interval_ms = 5000;  // librdkafka statistics (consumer lag)
  int store_retry_ms = 500;  // wait between feature store retries (policy: pause)
  StoreFailurePolicy failure_policy = StoreFailurePolicy::kPause;
};

// Live figures, cheap to read (the demo summary, tests).
struct StreamCounters {
  std::atomic<std::uint64_t> consumed{0};
  std::atomic<std::uint64_t> verdicts{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> batches{0};  // batches handed to the producer
  std::atomic<std::uint64_t> decisions[3] = {0, 0, 0};
  std::atomic<std::uint64_t> store_failures{0};
  std::atomic<std::uint64_t> store_round_trips{0};   // FeatureStoreCounters, as of the last batch
  std::atomic<std::uint64_t> store_script_calls{0};
  std::atomic<std::int64_t> assigned_partitions{0};
  std::atomic<std::int64_t> poll_heartbeat_ms{0};  // steady-clock ms of the poll loop's last turn
  std::atomic<bool> store_ok{true};                // the last feature store round trip succeeded
  std::atomic<bool> failed{false};                 // a fatal error: the engine is stopping (healthz red)
  LatencyRecorder end_to_end;  // Kafka timestamp -> verdict acknowledged
};

class StreamEngine {
 public:
  StreamEngine(StreamConfig config, std::shared_ptr<const RuleSet> rules, FeatureStore& store,
               EngineMetrics& metrics);
  ~StreamEngine();
  StreamEngine(const StreamEngine&) = delete;
  StreamEngine& operator=(const StreamEngine&) = delete;

  // Consumes until stop(); then finishes in-flight batches, waits for acks,
  // commits and leaves the group. Returns 0 on a clean stop, 1 on a fatal
  // Kafka error or failed delivery.
  int run();
  void stop() { stopping_.store(true); }
  bool running() const { return started_.load() && !finished_.load(); }

  void swap_rules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const;
  const StreamCounters& counters() const { return counters_; }
  // Rule hit counts of the current pack, by rule index.
  std::uint64_t rule_hits(std::size_t rule) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> finished_{false};
  StreamCounters counters_;
};

}  // namespace fraud

// StreamEngine: the production wiring. A KafkaSource (consumer group) and a
// KafkaSink (verdicts and dead letters) around the engine's Pipeline
// (engine/pipeline/pipeline.h: stages, batching, failure policy, the ack
// tracker that stores offsets only behind acknowledged output).
//
// Guarantees (Pipeline's): every consumed message ends as one verdict or
// one DLQ record before its offset can be committed (exactly_once: in the
// same transaction as that offset); feature updates carry
// the source partition/offset, so a redelivery after a crash never counts
// twice; on revocation in-flight batches are drained and committed first;
// rules can be swapped between batches.
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
#include <string>
#include <string_view>

#include "engine/feature_store.h"
#include "engine/latency_recorder.h"
#include "engine/metrics.h"
#include "engine/pipeline/pipeline_config.h"
#include "engine/rule_set.h"

namespace fraud {

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
  int threads = 0;                // pipeline worker threads (oneTBB); 0: one per core
  std::size_t max_event_bytes = 1 << 20;
  // Largest record produced (key + value + headers); 0: the smaller of the
  // producer's message.max.bytes and the topics' max.message.bytes.
  std::size_t max_record_bytes = 0;
  int statistics_interval_ms = 5000;  // librdkafka statistics (consumer lag)
  int store_retry_ms = 500;           // wait between feature store retries (policy: pause)
  StoreFailurePolicy failure_policy = StoreFailurePolicy::kPause;
  // kafka.delivery: at_least_once (offsets stored behind acknowledged
  // output) or exactly_once (output and offsets in one Kafka transaction
  // every transaction_ms; kafka_transactions.h).
  bool exactly_once = false;
  // Stable per instance (a restart with the same id fences its older self at
  // once); default "<group>-<hostname>". Two instances must never share one.
  std::string transactional_id;
  int transaction_ms = 100;
};

using StreamCounters = PipelineCounters;

class StreamEngine {
 public:
  StreamEngine(StreamConfig config, std::shared_ptr<const RuleSet> rules, FeatureStore& store, EngineMetrics& metrics);
  ~StreamEngine();
  StreamEngine(const StreamEngine&) = delete;
  StreamEngine& operator=(const StreamEngine&) = delete;

  // Consumes until stop(); then finishes in-flight batches, waits for acks,
  // commits and leaves the group. Returns 0 on a clean stop, 1 on a fatal
  // Kafka error or failed delivery.
  int run();
  void stop();
  bool running() const { return started_.load() && !finished_.load(); }

  void swap_rules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const;
  const StreamCounters& counters() const { return counters_; }
  // The pipeline's stats and the feature store's ("store_" prefix) as JSON
  // fields, each with a leading comma (engine/stats.h).
  void append_stats_json(std::string& out) const;
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

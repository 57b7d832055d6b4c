// KafkaSink: verdicts to the output topic (same key as the event) and dead
// letters to the DLQ topic (original bytes, key and headers plus dlq.*
// headers), through one idempotent producer. Records fit the output budget
// (output_fit.h): the smaller of the producer's message.max.bytes, the
// topics' max.message.bytes (asked once at start) and max_record_bytes. A
// record the broker refuses for good is dead-lettered once, header-only,
// instead of failing the batch. Delivery reports complete the pipeline's
// slots and feed the end-to-end latency (record timestamp -> acknowledged).
// With `exactly_once` the producer is transactional (kafka_transactions.h):
// records and input positions commit together.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "connectors/kafka/kafka_config.h"
#include "connectors/kafka/kafka_transactions.h"
#include "engine/metrics.h"
#include "engine/pipeline/clock.h"
#include "engine/pipeline/pipeline_config.h"
#include "engine/pipeline/verdict_sink.h"

namespace fraud {

struct KafkaSinkConfig {
  std::map<std::string, std::string> properties;  // bootstrap.servers and pass-through
  std::string source_topic;                       // for dlq.source.topic
  std::string output_topic = "verdicts";
  std::string dlq_topic = "verdicts-dlq";
  std::size_t max_record_bytes = 0;  // 0: the producer's and the topics' limits only
  bool exactly_once = false;
  std::string transactional_id;  // exactly_once: stable per instance
  int transaction_ms = 100;      // exactly_once: how long a transaction stays open
  std::function<rd_kafka_consumer_group_metadata_t*()> group_metadata;  // exactly_once
};

class KafkaSink final : public VerdictSink {
 public:
  // Creates the producer; throws on a configuration error.
  KafkaSink(KafkaSinkConfig config, EngineMetrics& metrics, PipelineCounters& counters,
            Clock& clock = SystemClock::instance());
  ~KafkaSink() override;

  bool send_verdict(const VerdictOut& out, RecordSlot& slot) override;
  bool send_dead_letter(const DeadLetterOut& out, RecordSlot& slot) override;
  bool tick() override;
  void flush(int timeout_ms) override;
  bool begin_batch() override { return !txn_ || txn_->begin_batch(); }
  bool end_batch(std::span<const Position> positions, bool produced) override {
    return !txn_ || txn_->end_batch(positions, produced);
  }
  bool commit_output() override { return !txn_ || txn_->commit(); }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);
  void delivered(const rd_kafka_message_t* msg);
  bool reroute(const rd_kafka_message_t* msg, RecordSlot* slot);
  bool produce_dead_letter(const SourceRecord& r, std::string_view reason, std::string detail, RecordSlot& slot);
  rd_kafka_resp_err_t produce_one(const std::string& topic, std::string_view key, const void* value, std::size_t len,
                                  rd_kafka_headers_t* headers, RecordSlot* slot, bool may_block = true);
  void set_output_budget(std::size_t topic_limit);

  KafkaSinkConfig config_;
  EngineMetrics& metrics_;
  PipelineCounters& counters_;
  Clock& clock_;
  KafkaHandle producer_;
  std::size_t producer_record_limit_ = 0;
  std::atomic<std::size_t> output_budget_{0};
  std::optional<TopicLimitQuery> topic_limits_;  // poll thread only (tick)
  std::optional<KafkaTransactions> txn_;         // exactly_once
  std::atomic<bool> poll_stop_{false};
  std::thread poller_;  // serves delivery reports
};

}  // namespace fraud

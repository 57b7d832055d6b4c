// KafkaSource: the pipeline's records from a consumer group (cooperative-
// sticky), positions stored behind acknowledged output (auto-commit sends
// them; a final commit on finish), consumer lag from librdkafka's
// statistics, and a drain before partitions are revoked. In exactly-once
// mode the sink's transactions commit the positions instead.
#pragma once

#include <simdjson.h>

#include <map>
#include <string>

#include "connectors/kafka/kafka_config.h"
#include "engine/metrics.h"
#include "engine/pipeline/event_source.h"
#include "engine/pipeline/pipeline_config.h"

namespace fraud {

struct KafkaSourceConfig {
  std::map<std::string, std::string> properties;  // bootstrap.servers and pass-through (SASL, SSL...)
  std::string group = "fraudstream";
  std::string topic = "loan-events";
  int fetch_wait_ms = 10;
  int statistics_interval_ms = 5000;
  // Positions go through the sink's transactions: none are stored or
  // committed by the consumer itself.
  bool exactly_once = false;
};

class KafkaSource final : public EventSource {
 public:
  // Creates the consumer and subscribes; throws on a configuration error.
  KafkaSource(KafkaSourceConfig config, EngineMetrics& metrics, PipelineCounters& counters);
  ~KafkaSource() override;

  std::string_view name() const override { return config_.topic; }
  void start(SourceListener& listener) override { listener_ = &listener; }
  Poll next(int wait_ms, SourceRecord& out, ByteArena& arena) override;
  void release(std::span<const SourceRecord> records) override;
  void commit(std::span<const Position> positions) override;
  void finish() override;
  std::string fatal_reason() const override { return fatal_reason_; }
  // For send_offsets_to_transaction (a new object; the caller frees it).
  rd_kafka_consumer_group_metadata_t* group_metadata() const {
    return rd_kafka_consumer_group_metadata(consumer_.get());
  }

 private:
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque);
  static int on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque);
  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void statistics(std::string_view json);

  KafkaSourceConfig config_;
  EngineMetrics& metrics_;
  PipelineCounters& counters_;
  SourceListener* listener_ = nullptr;
  KafkaHandle consumer_;
  rd_kafka_topic_partition_list_t* subscription_ = nullptr;
  simdjson::dom::parser stats_parser_;  // statistics callback (poll thread)
  std::string fatal_reason_;
  bool finished_ = false;
};

}  // namespace fraud

// EmbeddedKafka: librdkafka's mock cluster (rdkafka_mock.h) on loopback.
// It speaks the real Kafka protocol (consumer groups, offset commits,
// idempotent producer, fault injection), so every client here talks to it
// over TCP exactly as to a real cluster. Limits (measured): each partition
// keeps only about 5 MB, and transactions are not honoured.
//
// The cluster lives as long as the object. Thread safety: the mock cluster
// runs its own threads; methods may be called from any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_config.h"

typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace fraud {

class EmbeddedKafka {
 public:
  // `topics`: name and partition count created up front; others are
  // auto-created (with the cluster's default partition count) on first use.
  explicit EmbeddedKafka(int brokers = 1, const std::vector<std::pair<std::string, int>>& topics = {});
  ~EmbeddedKafka();
  EmbeddedKafka(const EmbeddedKafka&) = delete;
  EmbeddedKafka& operator=(const EmbeddedKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  void create_topic(const std::string& name, int partitions);
  rd_kafka_mock_cluster_t* cluster() const { return cluster_; }

 private:
  KafkaHandle handle_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
};

}  // namespace fraud

// Small RAII helpers over librdkafka's C API shared by the Kafka connectors.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace fraud {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    if (rk) rd_kafka_destroy(rk);
  }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

// Builds a configuration; throws std::runtime_error naming the bad property
// (startup only: configuration errors are exceptions, data errors are values).
rd_kafka_conf_t* make_kafka_conf(const std::map<std::string, std::string>& properties);

// Asks the cluster for the smallest `max.message.bytes` of some topics
// (DescribeConfigs) without waiting: poll() gives the answer once it came.
// Brokers without the API (the embedded cluster) never answer; then the
// producer's limit is all there is. Owner's thread only.
class TopicLimitQuery {
 public:
  TopicLimitQuery(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms);
  ~TopicLimitQuery();
  TopicLimitQuery(const TopicLimitQuery&) = delete;
  TopicLimitQuery& operator=(const TopicLimitQuery&) = delete;
  // 0 while there is no answer (or the answer held no limit); the smallest
  // limit once, then 0 again.
  std::size_t poll();

 private:
  rd_kafka_queue_t* queue_ = nullptr;
  bool done_ = false;
};

// The producer's `message.max.bytes` as configured on `conf`.
std::size_t conf_message_max_bytes(const rd_kafka_conf_t* conf);

// True for properties whose values are secrets (never logged or echoed).
bool is_secret_property(const std::string& name);

// Creates a client from `conf` (takes ownership); throws on failure.
KafkaHandle make_kafka_client(rd_kafka_type_t type, rd_kafka_conf_t* conf);

}  // namespace fraud

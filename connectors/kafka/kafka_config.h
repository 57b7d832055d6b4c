// Small RAII helpers over librdkafka's C API shared by the Kafka connectors.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

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

// Creates a client from `conf` (takes ownership); throws on failure.
KafkaHandle make_kafka_client(rd_kafka_type_t type, rd_kafka_conf_t* conf);

}  // namespace fraud

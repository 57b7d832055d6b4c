#include "connectors/kafka/embedded_kafka.h"

#include <librdkafka/rdkafka_mock.h>

namespace fraud {

EmbeddedKafka::EmbeddedKafka(int brokers, const std::vector<std::pair<std::string, int>>& topics) {
  handle_ = make_kafka_client(RD_KAFKA_PRODUCER, make_kafka_conf({{"log_level", "3"}}));
  cluster_ = rd_kafka_mock_cluster_new(handle_.get(), brokers);
  if (!cluster_) throw std::runtime_error("cannot start the embedded Kafka cluster");
  bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  for (const auto& [name, partitions] : topics) create_topic(name, partitions);
}

EmbeddedKafka::~EmbeddedKafka() {
  if (cluster_) rd_kafka_mock_cluster_destroy(cluster_);
}

void EmbeddedKafka::create_topic(const std::string& name, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1);
  if (err) throw std::runtime_error("cannot create topic " + name + ": " + rd_kafka_err2str(err));
}

}  // namespace fraud

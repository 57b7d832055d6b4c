#include "connectors/kafka/kafka_config.h"

namespace fraud {

rd_kafka_conf_t* make_kafka_conf(const std::map<std::string, std::string>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("kafka property " + k + "=" + v + ": " + err);
    }
  }
  return conf;
}

KafkaHandle make_kafka_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("cannot create kafka client: ") + err);
  }
  return KafkaHandle(rk);
}

}  // namespace fraud

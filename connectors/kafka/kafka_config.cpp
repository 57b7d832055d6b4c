#include "connectors/kafka/kafka_config.h"

#include <cstdlib>
#include <string_view>

namespace fraud {

rd_kafka_conf_t* make_kafka_conf(const std::map<std::string, std::string>& properties) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : properties) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error("kafka property " + k + "=" + (is_secret_property(k) ? "<secret>" : v) + ": " + err);
    }
  }
  return conf;
}

bool is_secret_property(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name.find("sasl.jaas") != std::string::npos || name.find(".pem") != std::string::npos;
}

std::size_t conf_message_max_bytes(const rd_kafka_conf_t* conf) {
  char value[64];
  std::size_t size = sizeof value;
  if (rd_kafka_conf_get(conf, "message.max.bytes", value, &size) != RD_KAFKA_CONF_OK) return 0;
  return static_cast<std::size_t>(std::strtoull(value, nullptr, 10));
}

TopicLimitQuery::TopicLimitQuery(rd_kafka_t* rk, const std::vector<std::string>& topics, int timeout_ms) {
  std::vector<rd_kafka_ConfigResource_t*> res;
  for (const auto& t : topics) res.push_back(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, t.c_str()));
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char err[256];
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, err, sizeof err);
  queue_ = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, res.data(), res.size(), opts, queue_);
  rd_kafka_AdminOptions_destroy(opts);
  for (auto* r : res) rd_kafka_ConfigResource_destroy(r);
}

TopicLimitQuery::~TopicLimitQuery() { rd_kafka_queue_destroy(queue_); }

std::size_t TopicLimitQuery::poll() {
  if (done_) return 0;
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue_, 0);
  if (!ev) return 0;
  done_ = true;
  std::size_t out = 0;
  const rd_kafka_DescribeConfigs_result_t* result =
      rd_kafka_event_error(ev) ? nullptr : rd_kafka_event_DescribeConfigs_result(ev);
  std::size_t n = 0;
  const rd_kafka_ConfigResource_t** rs = result ? rd_kafka_DescribeConfigs_result_resources(result, &n) : nullptr;
  for (std::size_t i = 0; i < n; ++i) {
    if (rd_kafka_ConfigResource_error(rs[i])) continue;
    std::size_t m = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(rs[i], &m);
    for (std::size_t j = 0; j < m; ++j) {
      const char* name = rd_kafka_ConfigEntry_name(entries[j]);
      const char* value = rd_kafka_ConfigEntry_value(entries[j]);
      if (name && value && std::string_view(name) == "max.message.bytes") {
        std::size_t l = static_cast<std::size_t>(std::strtoull(value, nullptr, 10));
        if (l > 0 && (out == 0 || l < out)) out = l;
      }
    }
  }
  rd_kafka_event_destroy(ev);
  return out;
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

// Compatibility: the engine, in exactly-once mode, through secured listeners
// of a cluster of the test's own: SASL/SCRAM-SHA-512 over TLS on the pinned
// 3.9 line, and TLS and SASL/PLAIN over TLS on the pinned 4.x line (KIP-896 removed old protocol
// versions in 4.0). The broker's certificate is checked against a test CA.
// Events go in and verdicts come out through the plaintext listener, as
// another team's clients would. (SCRAM against 4.x fails to authenticate
// with Debian's librdkafka 2.0.2, which repeats the client nonce; fixed in
// librdkafka 2.6.1: README, "Kafka versions tested".)
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "../integration/kafka_helpers.h"
#include "../integration/test_kafka.h"
#include "engine/synthetic_stream.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

std::string event_id(const std::string& json) {
  auto p = json.find("\"event_id\":\"");
  if (p == std::string::npos) return "";
  p += 12;
  return json.substr(p, json.find('"', p) - p);
}

// Runs the shipped pack over 2,000 events and one broken record through
// `listener` (with `security`: FRAUDSTREAM_KAFKA_PROPERTIES_* settings).
void one_verdict_per_event(const KafkaCluster& cluster, const std::string& listener,
                           const std::vector<std::pair<std::string, std::string>>& security) {
  TestKafka kafka(cluster.bootstrap(), {{"in", 2}, {"out", 2}, {"dlq", 1}});
  SyntheticStream stream(SyntheticOptions{});
  std::vector<std::pair<std::string, std::string>> events;
  std::set<std::string> ids;
  for (int i = 0; i < 2000; ++i) {
    std::string json;
    std::string key = stream.next(json);
    ids.insert(event_id(json));
    events.emplace_back(key, json);
  }
  events.emplace_back("k", "{not json");
  produce_all(kafka.bootstrap(), kafka.topic("in"), events);

  for (const auto& [name, value] : security)
    ::setenv(("FRAUDSTREAM_KAFKA_PROPERTIES_" + name).c_str(), value.c_str(), 1);
  ChildProcess engine({FRAUD_BINARY,
                       "run",
                       "--rules",
                       std::string(FRAUD_SOURCE_DIR) + "/rules",
                       "--kafka",
                       listener,
                       "--redis",
                       "memory",
                       "--input-topic",
                       kafka.topic("in"),
                       "--output-topic",
                       kafka.topic("out"),
                       "--dlq-topic",
                       kafka.topic("dlq"),
                       "--group",
                       kafka.group("compat"),
                       "--delivery",
                       "exactly_once",
                       "--transactional-id",
                       kafka.group("compat-1"),
                       "--metrics-port",
                       "0"});
  for (const auto& [name, value] : security) ::unsetenv(("FRAUDSTREAM_KAFKA_PROPERTIES_" + name).c_str());

  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), ids.size(), std::chrono::seconds(60));
  auto dead = consume(kafka.bootstrap(), kafka.topic("dlq"), 1, std::chrono::seconds(10));
  EXPECT_TRUE(engine.alive());
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  std::set<std::string> seen;
  for (const Record& v : verdicts) seen.insert(event_id(v.value));
  EXPECT_EQ(verdicts.size(), ids.size()) << "one verdict per event, none twice";
  EXPECT_EQ(seen, ids);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["dlq.reason"], "invalid_json");
}

std::string cluster_dir(const std::string& name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

}  // namespace

TEST(KafkaCompatibility, Kafka39OverSaslScramAndTls) {
  KafkaCluster cluster(cluster_dir("kafka3-sasl"), "--version 3 --sasl-tls");
  one_verdict_per_event(cluster, cluster.sasl_bootstrap(),
                        {{"SECURITY_PROTOCOL", "SASL_SSL"},
                         {"SASL_MECHANISMS", "SCRAM-SHA-512"},
                         {"SASL_USERNAME", "fraud"},
                         {"SASL_PASSWORD", "fraud-secret"},
                         {"SSL_CA_LOCATION", cluster.ca_file()}});
}

TEST(KafkaCompatibility, Kafka4OverTlsAndSaslPlain) {
  KafkaCluster cluster(cluster_dir("kafka4-tls"), "--version 4 --sasl-tls");
  one_verdict_per_event(cluster, cluster.tls_bootstrap(),
                        {{"SECURITY_PROTOCOL", "SSL"}, {"SSL_CA_LOCATION", cluster.ca_file()}});
  one_verdict_per_event(cluster, cluster.sasl_bootstrap(),
                        {{"SECURITY_PROTOCOL", "SASL_SSL"},
                         {"SASL_MECHANISMS", "PLAIN"},
                         {"SASL_USERNAME", "fraud"},
                         {"SASL_PASSWORD", "fraud-secret"},
                         {"SSL_CA_LOCATION", cluster.ca_file()}});
}

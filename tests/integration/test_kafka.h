// TestKafka: the Kafka cluster an integration test talks to.
//
// By default the real Apache Kafka broker (KRaft, tests/kafka/pom.xml) that
// the whole test run shares: the ctest fixture `kafka_broker` starts it once
// (scripts/kafka-cluster.sh ensure), or the first test that needs it when a
// test binary runs alone. Each TestKafka gets topics and consumer groups of
// its own (a unique prefix), so tests run in parallel on one broker.
//
// FRAUDSTREAM_TEST_KAFKA=embedded runs on librdkafka's mock cluster instead;
// FRAUDSTREAM_TEST_KAFKA=HOST:PORT on a broker of your own.
#pragma once

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "connectors/kafka/embedded_kafka.h"
#include "connectors/kafka/kafka_config.h"

namespace fraud::testing {

// Runs `command` and returns its stdout (trailing newline dropped); throws
// when it fails.
inline std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(command.c_str(), "r"), ::pclose);
  if (!p) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[512];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  int status = ::pclose(p.release());
  if (status != 0) throw std::runtime_error(command + " failed (status " + std::to_string(status) + ")");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The shared broker's bootstrap address, started if it is not running.
inline std::string shared_apache_kafka() {
  static const std::string bootstrap = [] {
    const std::string dir = FRAUD_TEST_KAFKA_DIR;
    return run_command("flock -o '" + dir + ".lock' '" FRAUD_SOURCE_DIR "/scripts/kafka-cluster.sh' ensure '" + dir +
                       "' | tail -1");
  }();
  return bootstrap;
}

// A cluster of its own for one test (scripts/kafka-cluster.sh): 3 brokers
// for broker faults, another version, SASL/TLS listeners. Stopped when it
// goes out of scope.
class KafkaCluster {
 public:
  // `options`: kafka-cluster.sh start options ("--brokers 3 --version 4").
  KafkaCluster(const std::string& dir, const std::string& options) : dir_(dir) {
    bootstrap_ = run_command(script() + " start '" + dir_ + "' " + options + " | tail -1");
  }
  ~KafkaCluster() { std::system((script() + " stop '" + dir_ + "' >/dev/null 2>&1").c_str()); }
  KafkaCluster(const KafkaCluster&) = delete;
  KafkaCluster& operator=(const KafkaCluster&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // The SASL_SSL listeners (--sasl-tls): user fraud, password fraud-secret.
  std::string sasl_bootstrap() const { return run_command("cat '" + dir_ + "/sasl_bootstrap'"); }
  // The SSL listeners (--sasl-tls): TLS only.
  std::string tls_bootstrap() const { return run_command("cat '" + dir_ + "/tls_bootstrap'"); }
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  // Signals node `node` (1-based); SIGKILL by default.
  void kill(int node, const std::string& signal = "KILL") const {
    run_command(script() + " kill '" + dir_ + "' " + std::to_string(node) + " " + signal);
  }
  // Stops one node gracefully (SIGTERM) and waits until it exited.
  void stop(int node) const { run_command(script() + " stop '" + dir_ + "' " + std::to_string(node)); }
  // Starts a stopped or killed node again and waits until it answers.
  void restart(int node) const { run_command(script() + " restart '" + dir_ + "' " + std::to_string(node)); }
  // Kafka's own kafka-producer-perf-test and kafka-consumer-perf-test on a
  // new topic: "producer_perf_records_per_s=X consumer_perf_records_per_s=Y".
  std::string perf(const std::string& topic, std::size_t records, std::size_t record_bytes) const {
    return run_command(script() + " perf '" + dir_ + "' '" + topic + "' " + std::to_string(records) + " " +
                       std::to_string(record_bytes));
  }
  // The node leading a partition (-1 if none is known).
  int leader(const std::string& topic, int partition) const {
    std::string out = run_command(script() + " leader '" + dir_ + "' '" + topic + "' " + std::to_string(partition));
    return out.empty() ? -1 : std::stoi(out);
  }

 private:
  static std::string script() { return "'" FRAUD_SOURCE_DIR "/scripts/kafka-cluster.sh'"; }
  std::string dir_;
  std::string bootstrap_;
};

class TestKafka {
 public:
  // kMock: librdkafka's mock cluster whatever the environment says, for a
  // test whose fault only the mock can inject (embedded()->cluster()).
  enum class Kind { kConfigured, kMock };

  explicit TestKafka(const std::vector<std::pair<std::string, int>>& topics = {}, Kind kind = Kind::kConfigured)
      : prefix_(next_prefix()) {
    const char* choice = std::getenv("FRAUDSTREAM_TEST_KAFKA");
    std::string which = choice ? choice : "";
    if (which == "embedded" || kind == Kind::kMock) {
      embedded_ = std::make_unique<EmbeddedKafka>(1);
      bootstrap_ = embedded_->bootstrap();
    } else {
      connect(which.empty() ? shared_apache_kafka() : which);
    }
    for (const auto& [name, partitions] : topics) create_topic(name, partitions);
  }

  // On a cluster of the test's own (KafkaCluster), whatever the environment says.
  TestKafka(const std::string& bootstrap, const std::vector<std::pair<std::string, int>>& topics, int replication = 1)
      : prefix_(next_prefix()) {
    connect(bootstrap);
    for (const auto& [name, partitions] : topics) create_topic(name, partitions, replication);
  }

  const std::string& bootstrap() const { return bootstrap_; }
  bool is_apache_kafka() const { return embedded_ == nullptr; }
  // This instance's name for a topic or a consumer group.
  std::string topic(std::string_view name) const { return prefix_ + std::string(name); }
  std::string group(std::string_view name) const { return prefix_ + std::string(name); }
  // The mock cluster, for faults only it can inject (nullptr on a real broker).
  EmbeddedKafka* embedded() const { return embedded_.get(); }

  // Creates topic(name) and waits until every partition has a leader.
  // `configs`: topic settings (max.message.bytes...), ignored by the mock.
  void create_topic(std::string_view name, int partitions, int replication = 1,
                    const std::vector<std::pair<std::string, std::string>>& configs = {}) {
    const std::string full = topic(name);
    if (embedded_) {
      embedded_->create_topic(full, partitions);
      return;
    }
    char err[256];
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(full.c_str(), partitions, replication, err, sizeof err);
    if (!t) throw std::runtime_error(err);
    for (const auto& [k, v] : configs) rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
    rd_kafka_queue_t* q = rd_kafka_queue_new(admin_.get());
    rd_kafka_CreateTopics(admin_.get(), &t, 1, nullptr, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30'000);
    std::string error;
    if (!ev) {
      error = "no answer";
    } else if (rd_kafka_event_error(ev)) {
      error = rd_kafka_event_error_string(ev);
    } else {
      std::size_t n = 0;
      const rd_kafka_topic_result_t** r =
          rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
      if (n == 1 && rd_kafka_topic_result_error(r[0]) &&
          rd_kafka_topic_result_error(r[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        error = rd_kafka_topic_result_error_string(r[0]);
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(t);
    if (!error.empty()) throw std::runtime_error("cannot create topic " + full + ": " + error);
    wait_for_leaders(full, partitions);
  }

 private:
  void wait_for_leaders(const std::string& name, int partitions) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(admin_.get(), name.c_str(), nullptr);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      const rd_kafka_metadata_t* md = nullptr;
      int ready = 0;
      if (rd_kafka_metadata(admin_.get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; ++i) {
          if (md->topics[i].err) continue;
          for (int p = 0; p < md->topics[i].partition_cnt; ++p) ready += md->topics[i].partitions[p].leader >= 0;
        }
        rd_kafka_metadata_destroy(md);
      }
      if (ready >= partitions) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    rd_kafka_topic_destroy(t);
  }

  // "t<pid>-<n>-": unique per instance, across the test processes of a run.
  static std::string next_prefix() {
    static std::atomic<int> instance{0};
    return "t" + std::to_string(::getpid()) + "-" + std::to_string(++instance) + "-";
  }
  void connect(const std::string& bootstrap) {
    bootstrap_ = bootstrap;
    admin_ =
        make_kafka_client(RD_KAFKA_PRODUCER, make_kafka_conf({{"bootstrap.servers", bootstrap_}, {"log_level", "3"}}));
  }

  std::string prefix_;
  std::string bootstrap_;
  std::unique_ptr<EmbeddedKafka> embedded_;
  KafkaHandle admin_;
};

}  // namespace fraud::testing

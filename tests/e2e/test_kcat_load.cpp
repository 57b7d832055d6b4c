// Load from outside the engine's own code, as bench/RESULTS.md's "Your own
// load" recipe makes it: `fraudstream generate --keyed` lines produced with
// kcat (Debian package) into the embedded Kafka, the engine on a real
// redis-server. Every event must get exactly one verdict, keyed like the
// event kcat sent, and nothing may go to the dead-letter topic (kcat split
// each line into key and JSON at the tab; the engine's metrics count it).
#include <gtest/gtest.h>

#include <simdjson.h>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "../integration/kafka_helpers.h"
#include "../integration/redis_server.h"
#include "../integration/test_kafka.h"

namespace fs = std::filesystem;
using namespace fraud;
using namespace fraud::testing;

namespace {

// `fraudstream run` with Redis needs a salt (no built-in one); the child
// processes inherit it.
const bool kTestSalt = [] {
  ::setenv("FRAUDSTREAM_REDIS_SALT", "test-salt", 0);
  return true;
}();

int run_shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string event_id_of(simdjson::ondemand::parser& parser, const std::string& json) {
  simdjson::padded_string padded(json);
  auto doc = parser.iterate(padded);
  std::string_view id;
  if (doc["event_id"].get_string().get(id)) return {};
  return std::string(id);
}

// The sum of every sample of `name` (all label sets) on a Prometheus text page.
double metric_sum(const std::string& page, const std::string& name) {
  double sum = 0;
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != ' ' && next != '{') continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace

TEST(KcatLoad, EveryEventProducedWithKcatGetsOneVerdictKeyedLikeIt) {
  constexpr int kEvents = 3000;
  RedisServer redis;
  TestKafka kafka({{"loan-events", 4}, {"verdicts", 4}, {"verdicts-dlq", 1}});
  fs::path dir = fs::temp_directory_path() / ("fraud-kcat-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string events = (dir / "events.tsv").string();

  ASSERT_EQ(run_shell(std::string(FRAUD_BINARY) + " generate --keyed --events " + std::to_string(kEvents) +
                      " --seed 11 > " + events),
            0);
  // What was generated: event id -> key.
  simdjson::ondemand::parser parser;
  std::map<std::string, std::string> key_of;
  {
    std::ifstream in(events);
    std::string line;
    while (std::getline(in, line)) {
      auto tab = line.find('\t');
      ASSERT_NE(tab, std::string::npos) << line;
      std::string key = line.substr(0, tab);
      std::string json = line.substr(tab + 1);
      EXPECT_EQ(json.find('\t'), std::string::npos);
      std::string id = event_id_of(parser, json);
      ASSERT_FALSE(id.empty()) << json;
      key_of[id] = key;
    }
  }
  ASSERT_EQ(key_of.size(), static_cast<std::size_t>(kEvents));

  ASSERT_EQ(
      run_shell("kcat -q -b " + kafka.bootstrap() + " -t " + kafka.topic("loan-events") + " -P -K '\\t' -l " + events),
      0);
  int metrics_port = free_tcp_port();
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", std::string(FRAUD_SOURCE_DIR) + "/rules", "--kafka",
                       kafka.bootstrap(), "--redis", "redis://127.0.0.1:" + std::to_string(redis.port()), "--group",
                       kafka.group("kcat-load"), "--input-topic", kafka.topic("loan-events"), "--output-topic",
                       kafka.topic("verdicts"), "--dlq-topic", kafka.topic("verdicts-dlq"), "--metrics-port",
                       std::to_string(metrics_port)});

  auto verdicts = consume(kafka.bootstrap(), kafka.topic("verdicts"), kEvents, std::chrono::seconds(120));
  ASSERT_EQ(verdicts.size(), static_cast<std::size_t>(kEvents));
  std::map<std::string, int> seen;
  for (const Record& v : verdicts) {
    std::string id = event_id_of(parser, v.value);
    ASSERT_TRUE(key_of.count(id)) << v.value;
    EXPECT_EQ(v.key, key_of[id]) << v.value;
    ++seen[id];
  }
  EXPECT_EQ(seen.size(), key_of.size());
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
  // The engine's own count: as many verdicts as events, no dead letters.
  std::string page = http_get(metrics_port, "/metrics");
  EXPECT_EQ(metric_sum(page, "fraud_verdicts_total"), kEvents) << page;
  EXPECT_EQ(metric_sum(page, "fraud_dlq_records_total"), 0) << page;
  fs::remove_all(dir);
}

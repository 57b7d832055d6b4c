// What an SRE sees: the engine on the embedded Kafka and a real
// redis-server, scraped by a real Prometheus server (Debian package). Every
// query of every dashboard panel must return data, every alert rule must be
// loaded and evaluate without error, `promtool check rules` must accept the
// alert file and `promtool check metrics` a scrape.
#include <gtest/gtest.h>

#include <simdjson.h>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "../integration/kafka_helpers.h"
#include "../integration/redis_server.h"
#include "../integration/test_kafka.h"
#include "engine/synthetic_stream.h"

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

std::string url_encode(const std::string& s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

int run_shell(const std::string& cmd) {
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string chart_file(const std::string& name) {
  return std::string(FRAUD_SOURCE_DIR) + "/helm/fraudstream/files/" + name;
}

}  // namespace

TEST(Observability, PromtoolAcceptsTheAlertRules) {
  EXPECT_EQ(run_shell("promtool check rules " + chart_file("alerts.yaml") + " > /dev/null"), 0);
}

TEST(Observability, DashboardAndAlertsWorkOnARealPrometheus) {
  ::setenv("FRAUDSTREAM_KAFKA_PROPERTIES_STATISTICS_INTERVAL_MS", "1000", 1);
  RedisServer redis;
  TestKafka kafka({{"loan-events", 4}, {"verdicts", 4}, {"verdicts-dlq", 1}});
  int metrics_port = free_tcp_port();
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", std::string(FRAUD_SOURCE_DIR) + "/rules", "--kafka",
                       kafka.bootstrap(), "--redis", "redis://127.0.0.1:" + std::to_string(redis.port()), "--group",
                       kafka.group("obs"), "--input-topic", kafka.topic("loan-events"), "--output-topic",
                       kafka.topic("verdicts"), "--dlq-topic", kafka.topic("verdicts-dlq"), "--metrics-port",
                       std::to_string(metrics_port)});

  // Traffic, with some malformed events, for the whole test.
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    SyntheticStream s(SyntheticOptions{});
    int round = 0;
    while (!stop.load()) {
      std::vector<std::pair<std::string, std::string>> batch;
      for (int i = 0; i < 200; ++i) {
        std::string json;
        std::string key = s.next(json);
        if (i == 7) json = "{broken";
        batch.emplace_back(key, json);
      }
      produce_all(kafka.bootstrap(), kafka.topic("loan-events"), batch);
      ++round;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });

  // A Prometheus scraping the engine every second, with the alert rules.
  fs::path dir = fs::path(::testing::TempDir()) / ("prom-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                           "rule_files: ['"
                                        << chart_file("alerts.yaml")
                                        << "']\n"
                                           "scrape_configs:\n  - job_name: fraudstream\n    static_configs:\n"
                                           "      - targets: ['127.0.0.1:"
                                        << metrics_port << "']\n";
  int prom_port = free_tcp_port();
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + (dir / "prometheus.yml").string(),
                           "--storage.tsdb.path=" + (dir / "data").string(),
                           "--web.listen-address=127.0.0.1:" + std::to_string(prom_port), "--log.level=warn"});

  auto query = [&](const std::string& promql) {
    return http_get(prom_port, "/api/v1/query?query=" + url_encode(promql));
  };
  simdjson::dom::parser parser;
  auto has_data = [&](const std::string& body) {
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) return false;
    std::string_view status;
    if (doc["status"].get_string().get(status) || status != "success") return false;
    simdjson::dom::array result;
    if (doc["data"]["result"].get_array().get(result)) return false;
    return result.size() > 0;
  };

  // Wait until the engine is scraped and has handled traffic for a while.
  bool up = false;
  for (int i = 0; i < 120 && !up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    up = has_data(query("sum(rate(fraud_verdicts_total[1m])) > 0")) && has_data(query("fraud_consumer_lag_messages")) &&
         has_data(query("rate(fraud_dlq_records_total[1m]) > 0"));
  }
  ASSERT_TRUE(up) << "Prometheus never saw the engine working";
  std::this_thread::sleep_for(std::chrono::seconds(3));

  // promtool on a real scrape.
  std::ofstream(dir / "scrape.txt") << http_get(metrics_port, "/metrics");
  EXPECT_EQ(run_shell("promtool check metrics < " + (dir / "scrape.txt").string()), 0);
  // The Redis store's copies are counted.
  EXPECT_TRUE(has_data(query("fraud_feature_cache_entries > 0")));

  // Every dashboard query returns data.
  std::ifstream dash_file(chart_file("dashboard.json"));
  std::string dash((std::istreambuf_iterator<char>(dash_file)), {});
  simdjson::dom::parser dash_parser;
  simdjson::dom::element d = dash_parser.parse(dash);
  int queries = 0;
  for (auto panel : d["panels"].get_array()) {
    for (auto target : panel["targets"].get_array()) {
      std::string expr(target["expr"].get_string().value());
      expr = std::regex_replace(expr, std::regex("\\$job"), "fraudstream");
      ++queries;
      EXPECT_TRUE(has_data(query(expr))) << panel["title"].get_string().value() << ": " << expr << "\n" << query(expr);
    }
  }
  EXPECT_GE(queries, 15);

  // Every alert rule is loaded, evaluated, healthy; every series it reads exists.
  std::string rules = http_get(prom_port, "/api/v1/rules");
  simdjson::dom::parser rp;
  simdjson::dom::element r = rp.parse(rules);
  int alerts = 0;
  std::set<std::string> series;
  for (auto group : r["data"]["groups"].get_array()) {
    for (auto rule : group["rules"].get_array()) {
      ++alerts;
      std::string_view health = rule["health"].get_string().value();
      EXPECT_EQ(health, "ok") << rule["name"].get_string().value() << ": " << rules;
      std::string q(rule["query"].get_string().value());
      std::regex metric("fraud_[a-z_]+");
      for (auto it = std::sregex_iterator(q.begin(), q.end(), metric); it != std::sregex_iterator(); ++it) {
        series.insert(it->str());
      }
    }
  }
  EXPECT_EQ(alerts, 9);
  for (const auto& s : series) EXPECT_TRUE(has_data(query(s))) << "alert reads " << s << " which has no data";

  stop.store(true);
  traffic.join();
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  prometheus.stop(SIGTERM);
}

// Hot reload under a running engine: a Kubernetes-style ConfigMap mount
// (files are symlinks through `..data`, which is swapped atomically), a
// broken pack that must not replace the running one, and SIGHUP.
#include <gtest/gtest.h>

#include <cstdlib>

#include <filesystem>
#include <fstream>

#include "kafka_helpers.h"
#include "redis_server.h"
#include "test_kafka.h"

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

const char* kPackV1 = R"(rules:
  - name: big_amount
    when: amount >= 1000
    score: 60
    reason: "amount {amount}"
)";

// Writes a new timestamped dir and swaps `..data` to it, like the kubelet.
void configmap_update(const fs::path& mount, const std::string& stamp, const std::string& pack_yaml) {
  fs::path dir = mount / ("..2026_" + stamp);
  fs::create_directories(dir);
  std::ofstream(dir / "rules.yaml") << pack_yaml;
  fs::path tmp = mount / "..data_tmp";
  fs::remove(tmp);
  fs::create_directory_symlink(dir.filename(), tmp);
  fs::rename(tmp, mount / "..data");
  if (!fs::exists(fs::symlink_status(mount / "rules.yaml")))
    fs::create_symlink("..data/rules.yaml", mount / "rules.yaml");
}

std::string version_of(const std::string& verdict) {
  auto p = verdict.find("\"rules_version\":\"");
  return p == std::string::npos ? "" : verdict.substr(p + 17, 64);
}

double reloads(int port, const char* result) {
  return metric_value(http_get(port, "/metrics"), std::string("fraud_rules_reloads_total{result=\"") + result + "\"}");
}

bool wait_for(const std::function<bool()>& cond, int seconds = 20) {
  for (int i = 0; i < seconds * 20; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST(HotReload, ConfigMapSwapBrokenPackAndSighup) {
  ::setenv("FRAUDSTREAM_KAFKA_PROPERTIES_SESSION_TIMEOUT_MS", "6000", 1);
  fs::path mount = fs::path(::testing::TempDir()) / "configmap-rules";
  fs::remove_all(mount);
  fs::create_directories(mount);
  configmap_update(mount, "01", kPackV1);
  TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
  int port = free_tcp_port();
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", mount.string(), "--kafka", kafka.bootstrap(), "--redis",
                       "memory", "--input-topic", kafka.topic("in"), "--output-topic", kafka.topic("out"),
                       "--dlq-topic", kafka.topic("dlq"), "--group", kafka.group("reload"), "--metrics-port",
                       std::to_string(port)});
  ASSERT_TRUE(wait_for([&] { return reloads(port, "success") >= 1; })) << "engine did not start";

  auto send = [&](int i) {
    produce_all(kafka.bootstrap(), kafka.topic("in"),
                {{"k", "{\"event_id\":\"e" + std::to_string(i) + "\",\"event_type\":\"t\",\"ts\":" + std::to_string(i) +
                           ",\"amount\":1500}"}});
  };
  send(1);
  auto v = consume(kafka.bootstrap(), kafka.topic("out"), 1);
  ASSERT_EQ(v.size(), 1u);
  std::string v1 = version_of(v[0].value);
  EXPECT_NE(v[0].value.find("\"score\":60"), std::string::npos);

  // 1. A good change through the ConfigMap symlink swap.
  std::string pack_v2 = kPackV1;
  pack_v2.replace(pack_v2.find("score: 60"), 9, "score: 90");
  configmap_update(mount, "02", pack_v2);
  ASSERT_TRUE(wait_for([&] { return reloads(port, "success") >= 2; })) << "reload not seen";
  send(2);
  v = consume(kafka.bootstrap(), kafka.topic("out"), 2);
  ASSERT_EQ(v.size(), 2u);
  std::string v2 = version_of(v[1].value);
  EXPECT_NE(v2, v1);
  EXPECT_NE(v[1].value.find("\"decision\":\"decline\",\"score\":90"), std::string::npos) << v[1].value;

  // 2. A broken pack is counted and the running one stays.
  configmap_update(mount, "03", "rules:\n  - name: big_amount\n    when: amount >=\n");
  ASSERT_TRUE(wait_for([&] { return reloads(port, "error") >= 1; })) << "broken reload not counted";
  send(3);
  v = consume(kafka.bootstrap(), kafka.topic("out"), 3);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(version_of(v[2].value), v2);

  // 3. The fix ships as the next ConfigMap update and is picked up.
  std::string pack_v3 = kPackV1;
  pack_v3.replace(pack_v3.find("score: 60"), 9, "score: 10");
  configmap_update(mount, "04", pack_v3);
  ASSERT_TRUE(wait_for([&] { return reloads(port, "success") >= 3; }));
  send(4);
  v = consume(kafka.bootstrap(), kafka.topic("out"), 4);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_NE(version_of(v[3].value), v2);
  EXPECT_NE(v[3].value.find("\"decision\":\"allow\",\"score\":10"), std::string::npos) << v[3].value;
  EXPECT_EQ(engine.stop(SIGTERM), 0);
}

TEST(HotReload, SighupReloadsWithoutFileEvents) {
  ::setenv("FRAUDSTREAM_KAFKA_PROPERTIES_SESSION_TIMEOUT_MS", "6000", 1);
  fs::path dir = fs::path(::testing::TempDir()) / "sighup-rules";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "rules.yaml") << kPackV1;
  TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
  int port = free_tcp_port();
  std::vector<std::string> args = {FRAUD_BINARY,     "run",
                                   "--rules",        dir.string(),
                                   "--kafka",        kafka.bootstrap(),
                                   "--redis",        "memory",
                                   "--input-topic",  kafka.topic("in"),
                                   "--output-topic", kafka.topic("out"),
                                   "--dlq-topic",    kafka.topic("dlq"),
                                   "--group",        kafka.group("hup"),
                                   "--metrics-port", std::to_string(port)};
  ChildProcess engine(args);
  ASSERT_TRUE(wait_for([&] { return reloads(port, "success") >= 1; }));
  // Edit through a path the watcher does not see: a hard link made before.
  fs::path outside = fs::path(::testing::TempDir()) / "outside.yaml";
  fs::remove(outside);
  fs::create_hard_link(dir / "rules.yaml", outside);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  double before = reloads(port, "success");
  {
    std::fstream f(outside, std::ios::in | std::ios::out);
    f.seekp(0, std::ios::end);
    f << "# tuned by the fraud team\n";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(reloads(port, "success"), before) << "no file event on the watched directory";
  ::kill(engine.pid(), SIGHUP);
  EXPECT_TRUE(wait_for([&] { return reloads(port, "success") >= before + 1; })) << "SIGHUP did not reload";
  EXPECT_EQ(engine.stop(SIGTERM), 0);
}

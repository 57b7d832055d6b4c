#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "connectors/redis/redis_feature_store.h"
#include "engine/cli/run_config.h"

using namespace fraud;

namespace {

std::string write(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST(RunConfig, FileThenEnvironmentThenFlags) {
  std::string path = write("run.yaml", R"(rules: /etc/rules
kafka:
  bootstrap: k1:9092
  group: g
  input_topic: loans
  fetch_wait_ms: 50
  properties:
    security.protocol: SASL_SSL
    sasl.username: svc
redis:
  url: redis://u:p@r:6379
pipeline:
  batch_size: 500
metrics:
  port: 9000
)");
  RunConfig c = load_run_config(path, {{"FRAUDSTREAM_KAFKA_GROUP", "from-env"},
                                       {"FRAUDSTREAM_KAFKA_PROPERTIES_SASL_PASSWORD", "secret"},
                                       {"FRAUDSTREAM_PIPELINE_MAX_IN_FLIGHT", "8"},
                                       {"UNRELATED", "x"}});
  EXPECT_EQ(c.rules_dir, "/etc/rules");
  EXPECT_EQ(c.stream.bootstrap, "k1:9092");
  EXPECT_EQ(c.stream.group, "from-env");
  EXPECT_EQ(c.stream.input_topic, "loans");
  EXPECT_EQ(c.stream.output_topic, "verdicts");  // default
  EXPECT_EQ(c.stream.fetch_wait_ms, 50);
  EXPECT_EQ(load_run_config("", {}).stream.fetch_wait_ms, 10);  // default
  EXPECT_EQ(load_run_config(path, {{"FRAUDSTREAM_KAFKA_FETCH_WAIT_MS", "2"}}).stream.fetch_wait_ms, 2);
  EXPECT_EQ(c.redis_url, "redis://u:p@r:6379");
  EXPECT_EQ(c.stream.batch_size, 500u);
  EXPECT_EQ(c.stream.max_in_flight, 8u);
  EXPECT_EQ(c.metrics_port, 9000);
  EXPECT_EQ(c.stream.kafka_properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c.stream.kafka_properties.at("sasl.username"), "svc");
  EXPECT_EQ(c.stream.kafka_properties.at("sasl.password"), "secret");
}

TEST(RunConfig, SaltFromAMountedSecret) {
  std::string salt = write("salt", "s3cr3t\n");
  RunConfig c = load_run_config("", {{"FRAUDSTREAM_REDIS_SALT_FILE", salt}});
  EXPECT_EQ(c.redis_salt, "s3cr3t");
}

TEST(RunConfig, ErrorsNameTheKeyAndLine) {
  std::string bad = write("bad.yaml", "kafka:\n  bootstrap: x\n  grop: g\n");
  try {
    load_run_config(bad, {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml:3:3: unknown config key 'kafka.grop'"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_run_config("", {{"FRAUDSTREAM_PIPELINE_BATCH_SIZE", "many"}}), std::runtime_error);
  EXPECT_THROW(load_run_config("", {{"FRAUDSTREAM_PIPELINE_BATCH_SIZE", "0"}}), std::runtime_error);
  EXPECT_EQ(load_run_config("", {{"FRAUDSTREAM_REDIS_CACHE_KEYS", "1000000"}}).redis_options.cache_keys, 1000000u);
  EXPECT_EQ(load_run_config("", {{"FRAUDSTREAM_REDIS_CACHE_MB", "64"}}).redis_options.cache_bytes, 64u << 20);
  EXPECT_EQ(load_run_config("", {}).redis_options.cache_bytes, 256u << 20);
  EXPECT_THROW(load_run_config("", {{"FRAUDSTREAM_REDIS_CACHE_MB", "-1"}}), std::runtime_error);
  try {
    load_run_config("", {{"FRAUDSTREAM_REDIS_CACHE_KEYS", "900000000"}});
    ADD_FAILURE() << "a cache of 900M copies was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("redis.cache_keys: '900000000' is above 50000000"), std::string::npos)
        << e.what();
  }
}

TEST(RunConfig, RedisPasswordFromAFileOrTheEnvironment) {
  std::string pw = write("redis-password", "s3cret\n");
  RunConfig f = load_run_config("", {{"FRAUDSTREAM_REDIS_PASSWORD_FILE", pw}});
  EXPECT_EQ(f.redis_password, "s3cret");
  RunConfig e = load_run_config("", {{"FRAUDSTREAM_REDIS_PASSWORD", "from-env"}});
  EXPECT_EQ(e.redis_password, "from-env");
}

TEST(RunConfig, RedisUrlsAreRedactedForMessages) {
  EXPECT_EQ(redact_redis_url("redis://fraud:s3cret@redis:6379"), "redis://fraud:***@redis:6379");
  EXPECT_EQ(redact_redis_url("redis://s3cret@redis:6379,r2:6379"), "redis://***@redis:6379,r2:6379");
  EXPECT_EQ(redact_redis_url("redis://redis:6379"), "redis://redis:6379");
  EXPECT_EQ(redact_redis_url("redis://u:p@ss@h:1"), "redis://u:***@h:1");
}

namespace {

// Runs the binary with `args` (stdin closed, no FRAUDSTREAM_* salt); returns
// exit status and stderr+stdout.
std::pair<int, std::string> run_binary(const std::string& args) {
  std::string out = ::testing::TempDir() + "/run-binary.out";
  std::string cmd = "env -u FRAUDSTREAM_REDIS_SALT -u FRAUDSTREAM_REDIS_SALT_FILE " + std::string(FRAUD_BINARY) + " " +
                    args + " > " + out + " 2>&1 < /dev/null";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

TEST(RunCommand, RefusesRedisWithoutASaltAndNeverEchoesThePassword) {
  auto [rc, text] = run_binary("run --rules " + std::string(FRAUD_SOURCE_DIR) +
                               "/rules --kafka 127.0.0.1:1 --redis redis://fraud:hunter2@127.0.0.1:1");
  EXPECT_EQ(rc, 2) << text;
  EXPECT_NE(text.find("no salt for Redis keys"), std::string::npos) << text;
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  auto [bad_rc, bad] = run_binary("run --rules " + std::string(FRAUD_SOURCE_DIR) +
                                  "/rules --kafka 127.0.0.1:1 --redis redis://fraud:hunter2@host:notaport");
  EXPECT_EQ(bad_rc, 2) << bad;
  EXPECT_NE(bad.find("bad redis url 'redis://fraud:***@host:notaport'"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("hunter2"), std::string::npos) << bad;
}

#include <gtest/gtest.h>

#include <fstream>

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
    EXPECT_NE(std::string(e.what()).find("bad.yaml:3:3: unknown config key 'kafka.grop'"), std::string::npos) << e.what();
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

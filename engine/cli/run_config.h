// Configuration of `fraudstream run`: a YAML file, every key overridable by
// an environment variable, and the command-line flags on top.
//
//   rules: /etc/fraudstream/rules          FRAUDSTREAM_RULES
//   kafka:
//     bootstrap: broker:9092               FRAUDSTREAM_KAFKA_BOOTSTRAP
//     group: fraudstream                   FRAUDSTREAM_KAFKA_GROUP
//     input_topic: loan-events             FRAUDSTREAM_KAFKA_INPUT_TOPIC
//     output_topic: verdicts               FRAUDSTREAM_KAFKA_OUTPUT_TOPIC
//     dlq_topic: verdicts-dlq              FRAUDSTREAM_KAFKA_DLQ_TOPIC
//     fetch_wait_ms: 10                    FRAUDSTREAM_KAFKA_FETCH_WAIT_MS (fetch.wait.max.ms; the
//                                          embedded broker holds empty fetches this long)
//     properties:                          FRAUDSTREAM_KAFKA_PROPERTIES_SASL_PASSWORD
//       security.protocol: SASL_SSL        (the suffix, lower case, '_' -> '.')
//   redis:
//     url: redis://user:pass@host:6379     FRAUDSTREAM_REDIS_URL ("memory": in-process;
//                                          several seeds of a cluster: redis://h1:6379,h2:6379)
//     password_file: /var/run/secrets/pw   FRAUDSTREAM_REDIS_PASSWORD_FILE, or FRAUDSTREAM_REDIS_PASSWORD
//                                          (replaces a password in the url; keep it off command lines)
//     salt: <secret>                       FRAUDSTREAM_REDIS_SALT
//     salt_file: /var/run/secrets/salt     FRAUDSTREAM_REDIS_SALT_FILE (required with Redis: no built-in salt)
//     failure_policy: pause                FRAUDSTREAM_REDIS_FAILURE_POLICY (pause | fail_open | fail_closed)
//     wait_replicas: 0                     FRAUDSTREAM_REDIS_WAIT_REPLICAS (cluster with replicas: 1,
//                                          so a master failover loses no feature update)
//     calls: per_batch                     FRAUDSTREAM_REDIS_CALLS (per_operation: the naive
//                                          benchmark reference, one round trip per feature op)
//     cache_keys: 1048576                  FRAUDSTREAM_REDIS_CACHE_KEYS (feature states kept in the
//                                          engine to compute on; 0: the Redis script computes all;
//                                          at most kMaxCacheKeys)
//     cache_mb: 256                        FRAUDSTREAM_REDIS_CACHE_MB (memory those copies may
//                                          take, estimated; 0: bounded by cache_keys alone)
//   pipeline:
//     batch_size: 2000                     FRAUDSTREAM_PIPELINE_BATCH_SIZE
//     batch_wait_ms: 5                     FRAUDSTREAM_PIPELINE_BATCH_WAIT_MS
//     max_in_flight: 4                     FRAUDSTREAM_PIPELINE_MAX_IN_FLIGHT
//     max_event_bytes: 1048576             FRAUDSTREAM_PIPELINE_MAX_EVENT_BYTES
//     threads: 0                           FRAUDSTREAM_PIPELINE_THREADS (0: one per core)
//   metrics:
//     port: 9464                           FRAUDSTREAM_METRICS_PORT (0: off)
//
// Errors (unknown keys, wrong types) are exceptions with file:line: this is
// startup, not the data path.
#pragma once

#include <map>
#include <string>

#include "connectors/kafka/stream_engine.h"
#include "connectors/redis/redis_feature_store.h"

namespace fraud {

inline constexpr std::size_t kMaxCacheKeys = 50'000'000;  // redis.cache_keys: ~15 GB of copies

struct RunConfig {
  std::string rules_dir = "rules";
  StreamConfig stream;
  std::string redis_url = "memory";
  std::string redis_salt;
  std::string redis_password;       // redis.password_file / FRAUDSTREAM_REDIS_PASSWORD; empty: the url's
  RedisStoreOptions redis_options;  // redis.calls, redis.wait_replicas, redis.cache_keys, redis.cache_mb
  int metrics_port = 9464;
};

// Loads `path` (empty: defaults only), then applies `env` (normally the
// process environment) on top. Throws std::runtime_error with a clear message.
RunConfig load_run_config(const std::string& path, const std::map<std::string, std::string>& env);

std::map<std::string, std::string> process_environment();

// The environment variable that overrides a config key: "kafka.input_topic"
// -> "FRAUDSTREAM_KAFKA_INPUT_TOPIC".
std::string config_env_name(const std::string& key);

}  // namespace fraud

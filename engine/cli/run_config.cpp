#include "engine/cli/run_config.h"
#include "engine/bounded_file.h"
#include "engine/yaml_value.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace fraud {

namespace {

const char* const kKeys[] = {
    "rules",
    "kafka.bootstrap",
    "kafka.group",
    "kafka.input_topic",
    "kafka.output_topic",
    "kafka.dlq_topic",
    "kafka.fetch_wait_ms",
    "kafka.max_record_bytes",
    "kafka.delivery",
    "kafka.transactional_id",
    "kafka.transaction_ms",
    "redis.url",
    "redis.salt",
    "redis.salt_file",
    "redis.password_file",
    "redis.failure_policy",
    "redis.calls",
    "redis.wait_replicas",
    "redis.cache_keys",
    "redis.cache_mb",
    "pipeline.batch_size",
    "pipeline.batch_wait_ms",
    "pipeline.max_in_flight",
    "pipeline.max_event_bytes",
    "pipeline.threads",
    "metrics.port",
};

long long to_int(const std::string& key, const std::string& v) {
  try {
    std::size_t used = 0;
    long long n = std::stoll(v, &used);
    if (used == v.size() && n >= 0) return n;
  } catch (...) {
  }
  throw std::runtime_error("config " + key + ": '" + v + "' is not a non-negative integer");
}

}  // namespace

std::string config_env_name(const std::string& key) {
  std::string out = "FRAUDSTREAM_";
  for (char c : key) out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    if (eq != std::string::npos) env.emplace(s.substr(0, eq), s.substr(eq + 1));
  }
  return env;
}

RunConfig load_run_config(const std::string& path, const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> flat;
  std::map<std::string, std::string> properties;
  if (!path.empty()) {
    YAML::Node root;
    FileText text = read_bounded_file(path, kMaxPackFileBytes);
    if (!text.ok) throw std::runtime_error(path + ": " + text.error);
    try {
      root = load_bounded_yaml(text.text);
    } catch (const YAML::Exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                               ": " + e.msg);
    }
    auto where = [&](const YAML::Node& n) {
      return path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
    };
    if (root && !root.IsNull()) {
      if (!root.IsMap()) throw std::runtime_error(where(root) + ": the config must be a map");
      for (auto it = root.begin(); it != root.end(); ++it) {
        std::string section = it->first.Scalar();
        if (it->second.IsScalar()) {
          flat[section] = it->second.Scalar();
          if (std::find(std::begin(kKeys), std::end(kKeys), section) == std::end(kKeys)) {
            throw std::runtime_error(where(it->first) + ": unknown config key '" + section + "'");
          }
          continue;
        }
        if (!it->second.IsMap()) throw std::runtime_error(where(it->second) + ": '" + section + "' must be a map");
        for (auto kv = it->second.begin(); kv != it->second.end(); ++kv) {
          std::string key = section + "." + kv->first.Scalar();
          if (key == "kafka.properties") {
            if (!kv->second.IsMap()) throw std::runtime_error(where(kv->second) + ": kafka.properties must be a map");
            for (auto p = kv->second.begin(); p != kv->second.end(); ++p)
              properties[p->first.Scalar()] = p->second.Scalar();
            continue;
          }
          if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
            throw std::runtime_error(where(kv->first) + ": unknown config key '" + key + "'");
          }
          if (!kv->second.IsScalar()) throw std::runtime_error(where(kv->second) + ": '" + key + "' must be a value");
          flat[key] = kv->second.Scalar();
        }
      }
    }
  }
  for (const char* key : kKeys) {
    auto it = env.find(config_env_name(key));
    if (it != env.end()) flat[key] = it->second;
  }
  const std::string prop_prefix = "FRAUDSTREAM_KAFKA_PROPERTIES_";
  for (const auto& [name, value] : env) {
    if (name.rfind(prop_prefix, 0) != 0) continue;
    std::string prop;
    for (char c : name.substr(prop_prefix.size()))
      prop.push_back(c == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    properties[prop] = value;
  }

  RunConfig c;
  auto get = [&](const char* key, std::string& out) {
    auto it = flat.find(key);
    if (it != flat.end()) out = it->second;
  };
  get("rules", c.rules_dir);
  get("kafka.bootstrap", c.stream.bootstrap);
  get("kafka.group", c.stream.group);
  get("kafka.input_topic", c.stream.input_topic);
  get("kafka.output_topic", c.stream.output_topic);
  get("kafka.dlq_topic", c.stream.dlq_topic);
  get("redis.url", c.redis_url);
  get("redis.salt", c.redis_salt);
  auto secret_file = [&](const char* key) {
    FileText text = read_bounded_file(flat[key], 64 * 1024);
    if (!text.ok) throw std::runtime_error(std::string("config ") + key + ": " + flat[key] + ": " + text.error);
    std::string out = std::move(text.text);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  };
  if (flat.count("redis.salt_file")) c.redis_salt = secret_file("redis.salt_file");
  if (auto pw = env.find("FRAUDSTREAM_REDIS_PASSWORD"); pw != env.end()) c.redis_password = pw->second;
  if (flat.count("redis.password_file")) c.redis_password = secret_file("redis.password_file");
  if (flat.count("redis.failure_policy")) {
    auto p = parse_failure_policy(flat["redis.failure_policy"]);
    if (!p)
      throw std::runtime_error("config redis.failure_policy: '" + flat["redis.failure_policy"] +
                               "' is not pause, fail_open or fail_closed");
    c.stream.failure_policy = *p;
  }
  if (flat.count("redis.calls")) {
    const std::string& v = flat["redis.calls"];
    if (v == "per_batch") {
      c.redis_options.mode = RedisCallMode::kPerBatch;
    } else if (v == "per_operation") {
      c.redis_options.mode = RedisCallMode::kPerOperation;
    } else {
      throw std::runtime_error("config redis.calls: '" + v + "' is not per_batch or per_operation");
    }
  }
  if (flat.count("redis.wait_replicas"))
    c.redis_options.wait_replicas = static_cast<int>(to_int("redis.wait_replicas", flat["redis.wait_replicas"]));
  if (flat.count("redis.cache_keys")) {
    c.redis_options.cache_keys = static_cast<std::size_t>(to_int("redis.cache_keys", flat["redis.cache_keys"]));
    // The copies' array is reserved up front (addresses must not move).
    if (c.redis_options.cache_keys > kMaxCacheKeys) {
      throw std::runtime_error("config redis.cache_keys: '" + flat["redis.cache_keys"] + "' is above " +
                               std::to_string(kMaxCacheKeys) + " (a few hundred bytes of engine memory each)");
    }
  }
  if (flat.count("redis.cache_mb")) {
    auto mb = to_int("redis.cache_mb", flat["redis.cache_mb"]);
    if (mb < 0 || mb > (std::int64_t{1} << 30)) {
      throw std::runtime_error("config redis.cache_mb: '" + flat["redis.cache_mb"] + "' is not between 0 and 2^30");
    }
    c.redis_options.cache_bytes = static_cast<std::size_t>(mb) << 20;
  }
  if (flat.count("pipeline.threads"))
    c.stream.threads = static_cast<int>(to_int("pipeline.threads", flat["pipeline.threads"]));
  if (flat.count("pipeline.batch_size"))
    c.stream.batch_size = static_cast<std::size_t>(to_int("pipeline.batch_size", flat["pipeline.batch_size"]));
  if (flat.count("pipeline.batch_wait_ms"))
    c.stream.batch_wait_ms = static_cast<int>(to_int("pipeline.batch_wait_ms", flat["pipeline.batch_wait_ms"]));
  if (flat.count("pipeline.max_in_flight"))
    c.stream.max_in_flight = static_cast<std::size_t>(to_int("pipeline.max_in_flight", flat["pipeline.max_in_flight"]));
  if (flat.count("pipeline.max_event_bytes"))
    c.stream.max_event_bytes =
        static_cast<std::size_t>(to_int("pipeline.max_event_bytes", flat["pipeline.max_event_bytes"]));
  if (flat.count("kafka.fetch_wait_ms"))
    c.stream.fetch_wait_ms = static_cast<int>(to_int("kafka.fetch_wait_ms", flat["kafka.fetch_wait_ms"]));
  if (flat.count("kafka.max_record_bytes"))
    c.stream.max_record_bytes =
        static_cast<std::size_t>(to_int("kafka.max_record_bytes", flat["kafka.max_record_bytes"]));
  if (flat.count("kafka.delivery")) {
    const std::string& v = flat["kafka.delivery"];
    if (v != "at_least_once" && v != "exactly_once") {
      throw std::runtime_error("config kafka.delivery: '" + v + "' is not at_least_once or exactly_once");
    }
    c.stream.exactly_once = v == "exactly_once";
  }
  get("kafka.transactional_id", c.stream.transactional_id);
  if (flat.count("kafka.transaction_ms")) {
    c.stream.transaction_ms = static_cast<int>(to_int("kafka.transaction_ms", flat["kafka.transaction_ms"]));
    if (c.stream.transaction_ms < 1 || c.stream.transaction_ms > 60'000) {
      throw std::runtime_error("config kafka.transaction_ms: '" + flat["kafka.transaction_ms"] +
                               "' is not between 1 and 60000");
    }
  }
  if (flat.count("metrics.port")) c.metrics_port = static_cast<int>(to_int("metrics.port", flat["metrics.port"]));
  c.stream.kafka_properties = properties;
  if (c.stream.batch_size == 0 || c.stream.max_in_flight == 0)
    throw std::runtime_error("config: batch_size and max_in_flight must be positive");
  return c;
}

}  // namespace fraud

#include "engine/cli/stream_commands.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "connectors/kafka/embedded_kafka.h"
#include "connectors/kafka/stream_engine.h"
#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/cli/ops_endpoints.h"
#include "engine/cli/rules_reloader.h"
#include "engine/pack_loader.h"
#include "engine/synthetic_stream.h"

namespace fraud {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void on_signal(int) { g_stop.store(true); }
void on_hangup(int) { g_reload.store(true); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_hangup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);
}

// `salt` must not be empty with a Redis store (only the demo passes its own).
// `password`: replaces the url's password when not empty.
std::unique_ptr<FeatureStore> make_store(const std::string& url, const std::string& salt,
                                         RedisStoreOptions options = {}, const std::string& password = {}) {
  if (url == "memory") return std::make_unique<MemoryFeatureStore>();
  auto seeds = parse_redis_seeds(url);
  if (!seeds) {
    throw std::runtime_error("bad redis url '" + redact_redis_url(url) +
                             "': use redis://[user@]host:port[,host:port...] or memory");
  }
  if (salt.empty()) {
    throw std::runtime_error(
        "no salt for Redis keys: set redis.salt_file (or FRAUDSTREAM_REDIS_SALT_FILE / FRAUDSTREAM_REDIS_SALT) to a "
        "secret; it keeps raw ID and phone numbers out of Redis and cannot change without losing the features");
  }
  if (!password.empty()) {
    for (auto& s : *seeds) s.password = password;
  }
  auto store = std::make_unique<RedisFeatureStore>(*seeds, salt, options);
  StoreStatus st = store->connect();
  if (!st.ok) spdlog::warn("{} (will keep retrying)", st.error);
  return store;
}

std::shared_ptr<const RuleSet> load_rules_or_throw(const std::string& dir) {
  PackLoadResult pack = load_pack_directory(dir);
  if (!pack.ok()) throw std::runtime_error("rule pack " + dir + " does not compile:\n" + pack.diagnostics.to_text());
  return pack.rules;
}

}  // namespace

int cmd_kafka(int brokers, const std::vector<std::string>& topics) {
  install_signal_handlers();
  std::vector<std::pair<std::string, int>> parsed;
  for (const auto& t : topics) {
    auto colon = t.rfind(':');
    int partitions = colon == std::string::npos ? 1 : std::stoi(t.substr(colon + 1));
    parsed.emplace_back(t.substr(0, colon), partitions);
  }
  EmbeddedKafka kafka(brokers, parsed);
  std::cout << kafka.bootstrap() << std::endl;
  while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

int cmd_run(const RunConfig& config) {
  install_signal_handlers();
  if (config.stream.bootstrap.empty())
    throw std::runtime_error("no Kafka bootstrap: set --kafka, kafka.bootstrap or FRAUDSTREAM_KAFKA_BOOTSTRAP");
  auto rules = load_rules_or_throw(config.rules_dir);
  auto store = make_store(config.redis_url, config.redis_salt, config.redis_options, config.redis_password);
  EngineMetrics metrics(config.stream.input_topic);
  metrics.rules_reloads.Add({{"result", "success"}}).Increment();
  StreamEngine engine(config.stream, rules, *store, metrics);
  auto http = serve_ops_endpoints(config.metrics_port, metrics, engine);
  spdlog::info("fraudstream run: {} -> {} (dlq {}), rules {} ({}), store {}", config.stream.input_topic,
               config.stream.output_topic, config.stream.dlq_topic, config.rules_dir, rules->version.substr(0, 12),
               store->name());
  RulesReloader reloader(
      config.rules_dir, rules->version,
      [&](std::shared_ptr<const RuleSet> next) {
        engine.swap_rules(std::move(next));
        metrics.rules_reloads.Add({{"result", "success"}}).Increment();
      },
      [&](const Diagnostics&) {
        metrics.rules_reloads.Add({{"result", "error"}}).Increment();
      });
  std::thread watcher([&] {
    while (!g_stop.load() && !engine.running()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    while (!g_stop.load() && engine.running()) {
      if (g_reload.exchange(false)) reloader.request_reload();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    engine.stop();
  });
  int rc = engine.run();
  g_stop.store(true);
  watcher.join();
  const auto& c = engine.counters();
  spdlog::info("stopped: {} consumed, {} verdicts, {} dead letters, {} acknowledged", c.consumed.load(),
               c.verdicts.load(), c.dead_letters.load(), c.acked.load());
  return rc;
}

int cmd_demo(const DemoOptions& o) {
  install_signal_handlers();
  auto rules = load_rules_or_throw(o.rules_dir);
  EmbeddedKafka kafka(1, {{"loan-events", o.partitions}, {"verdicts", o.partitions}, {"verdicts-dlq", 1}});
  auto store = make_store(o.redis_url, "demo-salt");
  EngineMetrics metrics("loan-events");
  StreamConfig sc;
  sc.bootstrap = kafka.bootstrap();
  sc.group = "fraudstream-demo";
  StreamEngine engine(sc, rules, *store, metrics);
  auto http = serve_ops_endpoints(o.metrics_port, metrics, engine);
  std::printf("embedded Kafka at %s; rules %s (%zu rules); store %s; metrics on :%d/metrics\n",
              kafka.bootstrap().c_str(), rules->version.substr(0, 12).c_str(), rules->rules.size(),
              std::string(store->name()).c_str(), o.metrics_port);
  std::fflush(stdout);
  std::thread engine_thread([&] { engine.run(); });
  // Offer traffic once the engine owns its partitions (the first group join
  // takes a few seconds), so the summary shows steady-state latency.
  for (int i = 0; i < 600 && !g_stop.load() && engine.counters().assigned_partitions.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  // The platform: a producer of synthetic micro-lending traffic.
  std::atomic<std::uint64_t> produced{0};
  std::thread generator([&] {
    auto producer = make_kafka_client(
        RD_KAFKA_PRODUCER,
        make_kafka_conf({{"bootstrap.servers", kafka.bootstrap()}, {"linger.ms", "5"}, {"log_level", "3"}}));
    SyntheticOptions so;
    so.seed = o.seed;
    so.step_ms = 20;
    SyntheticStream stream(so);
    std::mt19937_64 rng(o.seed);
    auto start = std::chrono::steady_clock::now();
    std::string json;
    while (!g_stop.load()) {
      if (o.rate > 0) {
        double due = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * o.rate;
        if (static_cast<double>(produced.load()) >= due) {
          std::this_thread::sleep_for(std::chrono::microseconds(500));
          continue;
        }
      }
      json.clear();
      std::string key = stream.next(json);
      if (std::uniform_real_distribution<double>(0, 1)(rng) < o.invalid_share) json = json.substr(0, json.size() / 2);
      while (rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC("loan-events"), RD_KAFKA_V_KEY(key.data(), key.size()),
                               RD_KAFKA_V_VALUE(json.data(), json.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                               RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer.get(), 10);
      }
      rd_kafka_poll(producer.get(), 0);
      produced.fetch_add(1);
    }
    rd_kafka_flush(producer.get(), 10'000);
  });

  auto started = std::chrono::steady_clock::now();
  std::uint64_t last_verdicts = 0;
  std::vector<std::uint64_t> last_hits(rules->rules.size(), 0);
  const auto& c = engine.counters();
  LatencyRecorder::Snapshot last_latency = c.end_to_end.snapshot();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::uint64_t v = c.verdicts.load();
    std::vector<std::pair<std::uint64_t, std::string>> top;
    for (std::size_t r = 0; r < rules->rules.size(); ++r) {
      std::uint64_t h = engine.rule_hits(r);
      if (h > last_hits[r]) top.emplace_back(h - last_hits[r], rules->rules[r].name);
      last_hits[r] = h;
    }
    std::sort(top.rbegin(), top.rend());
    std::string top_text;
    for (std::size_t i = 0; i < top.size() && i < 3; ++i) {
      top_text += (i ? ", " : "") + top[i].second + " " + std::to_string(top[i].first);
    }
    std::printf("[%5.0fs] %7llu events/s | allow %llu review %llu decline %llu | dlq %llu | p99 %.1f ms | top: %s\n",
                elapsed, static_cast<unsigned long long>(v - last_verdicts),
                static_cast<unsigned long long>(c.allowed.load()), static_cast<unsigned long long>(c.reviewed.load()),
                static_cast<unsigned long long>(c.declined.load()),
                static_cast<unsigned long long>(c.dead_letters.load()),
                c.end_to_end.quantile_since(last_latency, 0.99) * 1000, top_text.empty() ? "-" : top_text.c_str());
    std::fflush(stdout);
    last_verdicts = v;
    last_latency = c.end_to_end.snapshot();
    if (o.duration_s > 0 && elapsed >= o.duration_s) g_stop.store(true);
  }
  generator.join();
  // Let the engine finish what was produced, then stop it gracefully.
  for (int i = 0; i < 100 && c.consumed.load() < produced.load(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  engine.stop();
  engine_thread.join();
  std::printf("demo done: %llu produced, %llu verdicts, %llu dead letters, %llu acknowledged\n",
              static_cast<unsigned long long>(produced.load()), static_cast<unsigned long long>(c.verdicts.load()),
              static_cast<unsigned long long>(c.dead_letters.load()), static_cast<unsigned long long>(c.acked.load()));
  return 0;
}

}  // namespace fraud

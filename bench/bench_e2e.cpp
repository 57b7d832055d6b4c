// End-to-end load bench: the real `fraudstream run` binary between the
// embedded Kafka cluster (in this process) and a real redis-server, fed by a
// librdkafka producer with the synthetic lending stream.
//
// Targets (checked in bench/RESULTS.md): >= 100,000 events/s with the
// shipped pack, p99 under 25 ms at 20,000 events/s offered, >= 0.35 of the
// passthrough ceiling, >= 10x the naive mode, one Redis round trip per batch
// with <= 5 us of Redis CPU per event, >= half the throughput under a hot-key
// attack, RSS flat over a soak.
// Scenarios (each on a fresh Kafka, Redis and engine):
//   throughput  a backlog of --events events is loaded first, then the
//               engine drains it flat out; events/s between its first and
//               last acknowledged verdict. Modes: full (shipped pack +
//               Redis, its model included), full-no-model (the same pack
//               without its model: the model's cost), passthrough (no
//               rules, no features: the ceiling),
//               memory (in-process store), naive (one synchronous Redis
//               round trip per feature op), hot-key (half of all events on
//               one device and one ID number); batch sizes and thread counts.
//   latency     the producer offers a fixed rate; end-to-end latency (Kafka
//               timestamp of the event -> verdict acknowledged by the broker)
//               from the engine's exact histogram (/stats) over the window.
//   soak        (--soak SECONDS) a fixed rate for a long time; engine RSS
//               sampled every 10 s; event time runs --soak-step-ms per event.
// Sizes: --events (default 400,000) on 64 partitions; naive mode gets a
// tenth. Fixed-rate scenarios use 4 partitions, the soak 16. The load
// producer lingers --rate-linger-ms (fixed rates) or --soak-linger-ms (soak);
// that linger is inside every latency figure. Engines run with
// kafka.fetch_wait_ms 2 because the embedded broker holds an empty fetch for
// the whole wait. Why these settings: bench/RESULTS.md.
// --broker apache runs every scenario on a real Apache Kafka 3.9 broker
// (scripts/kafka-cluster.sh; fetch wait 100 ms) and adds the exactly-once
// row (full-exactly-once: the shipped pack with Redis, --delivery exactly_once).
// --repeat N runs each scenario but the soak N times and keeps the median run.
// Output: a table on stdout, CSVs and a gnuplot PNG in --out (default
// bench/results), and the generated regions of bench/RESULTS.md rewritten
// (the hand-written text around them stays).
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "bench/e2e_probes.h"
#include "bench/e2e_results.h"
#include "bench/redis_info.h"
#include "connectors/kafka/embedded_kafka.h"
#include "engine/latency_recorder.h"
#include "engine/synthetic_stream.h"
#include "tests/integration/kafka_helpers.h"
#include "tests/integration/redis_cluster.h"
#include "tests/integration/redis_server.h"
#include "tests/integration/test_kafka.h"

using namespace fraud;
using namespace fraud::e2e;
using fraud::testing::ChildProcess;
using fraud::testing::RedisCluster;
using fraud::testing::RedisServer;
using Clock = std::chrono::steady_clock;

namespace {

// `fraudstream run` with Redis needs a salt (no built-in one); the child
// processes inherit it.
const bool kTestSalt = [] {
  ::setenv("FRAUDSTREAM_REDIS_SALT", "test-salt", 0);
  return true;
}();

int kPartitions = 64;      // --partitions: backlog scenarios (the mock keeps ~5 MB each)
int kRatePartitions = 4;   // --rate-partitions: fixed-rate scenarios
int kSoakPartitions = 16;  // --soak-partitions: the soak (room for a backlog when it falls behind)
int kBacklogLingerMs = 5;  // the load producer filling a backlog (flat out: sets fill up anyway)
int kRateLingerMs = 1;     // --rate-linger-ms: the load producer of fixed-rate rows (inside their latency)
int kSoakLingerMs = 25;    // --soak-linger-ms: the soak's load producer (fewer, bigger message sets)
int tick_ms = 5;           // --tick-ms: the producer sends what is due every tick
int rate_threads = 0;      // --rate-threads: pipeline threads of the fixed-rate scenarios (0: one per core)

// ---- load -----------------------------------------------------------------------

KafkaHandle make_producer(const std::string& bootstrap, int linger_ms) {
  return make_kafka_client(RD_KAFKA_PRODUCER, make_kafka_conf({{"bootstrap.servers", bootstrap},
                                                               {"linger.ms", std::to_string(linger_ms)},
                                                               {"queue.buffering.max.messages", "1000000"},
                                                               {"queue.buffering.max.kbytes", "1048576"},
                                                               {"log_level", "3"}}));
}

void produce_one(rd_kafka_t* p, const std::string& topic, const std::string& key, const std::string& value) {
  while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                           RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    rd_kafka_poll(p, 5);
  }
}

SyntheticOptions stream_options(const Scenario& s, std::uint64_t seed) {
  SyntheticOptions o;
  o.seed = seed;
  o.hot_key_share = s.hot_key_share;
  o.step_ms = s.step_ms;
  return o;
}

// ---- one scenario -----------------------------------------------------------

class Bench {
 public:
  Bench(std::string binary, std::string rules_dir, std::string work_dir, std::string out_dir)
      : binary_(std::move(binary)),
        rules_dir_(std::move(rules_dir)),
        work_(std::move(work_dir)),
        out_dir_(std::move(out_dir) + "/metrics") {
    std::filesystem::create_directories(out_dir_);
    std::filesystem::create_directories(work_ + "/passthrough");
    std::ofstream(work_ + "/passthrough/00-settings.yaml")
        << "settings:\n  score_thresholds: {review: 50, decline: 80}\n";
    // The shipped pack without its models (and without what only they read).
    std::filesystem::create_directories(work_ + "/no-model");
    for (const auto& f : std::filesystem::directory_iterator(rules_dir_)) {
      std::string name = f.path().filename().string();
      if (!f.is_regular_file() || name.find("model") != std::string::npos) continue;
      std::filesystem::copy_file(f.path(), work_ + "/no-model/" + name,
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

  // Runs every scenario on a real Apache Kafka broker (scripts/kafka-cluster.sh,
  // the pinned 3.9 line) instead of the embedded cluster.
  void use_apache_kafka() { apache_ = std::make_unique<fraud::testing::KafkaCluster>(work_ + "/kafka", "--version 3"); }
  bool on_apache_kafka() const { return apache_ != nullptr; }
  void stop_kafka() { apache_.reset(); }
  std::string kafka_perf(const std::string& topic, std::size_t records, std::size_t bytes) const {
    return apache_->perf(topic, records, bytes);
  }

  Result run(const Scenario& s, bool soak = false) {
    int partitions = soak ? kSoakPartitions : s.rate > 0 ? kRatePartitions : kPartitions;
    const std::vector<std::pair<std::string, int>> topics = {
        {"loan-events", partitions}, {"verdicts", partitions}, {"verdicts-dlq", 1}};
    std::unique_ptr<EmbeddedKafka> embedded;
    std::unique_ptr<fraud::testing::TestKafka> real;
    std::string out_topic = "verdicts", dlq_topic = "verdicts-dlq";
    input_topic_ = "loan-events";
    if (apache_) {
      real = std::make_unique<fraud::testing::TestKafka>(apache_->bootstrap(), topics);
      input_topic_ = real->topic("loan-events");
      out_topic = real->topic("verdicts");
      dlq_topic = real->topic("verdicts-dlq");
    } else {
      embedded = std::make_unique<EmbeddedKafka>(1, topics);
    }
    const std::string bootstrap = real ? real->bootstrap() : embedded->bootstrap();
    std::unique_ptr<RedisServer> redis;
    std::unique_ptr<RedisCluster> cluster;
    std::vector<int> redis_ports;
    std::string redis_url;
    if (s.cluster) {
      cluster = std::make_unique<RedisCluster>(3, 0);
      redis_url = cluster->url();
      redis_ports = cluster->masters();
    } else {
      redis = std::make_unique<RedisServer>();
      redis_url = "redis://127.0.0.1:" + std::to_string(redis->port());
      redis_ports = {redis->port()};
    }
    auto producer = make_producer(bootstrap, soak ? kSoakLingerMs : s.rate > 0 ? kRateLingerMs : kBacklogLingerMs);
    SyntheticStream gen(stream_options(s, 42 + runs_));
    std::string value;
    std::size_t backlog = s.rate > 0 ? 0 : s.events;
    for (std::size_t i = 0; i < backlog; ++i) {
      value.clear();
      std::string key = gen.next(value);
      produce_one(producer.get(), input_topic_, key, value);
      if (i % 1024 == 0) rd_kafka_poll(producer.get(), 0);
    }
    rd_kafka_flush(producer.get(), 120'000);

    std::string group = "bench-" + std::to_string(runs_++);
    RedisUsage redis0 = redis_usage(redis_ports);
    std::vector<std::unique_ptr<ChildProcess>> engines;
    Fleet fleet;
    for (int e = 0; e < std::max(1, s.instances); ++e) {
      int port = fraud::testing::free_tcp_port();
      std::vector<std::string> args = {binary_,          "run",
                                       "--kafka",        bootstrap,
                                       "--metrics-port", std::to_string(port),
                                       "--group",        group,
                                       "--batch-size",   std::to_string(s.batch),
                                       "--threads",      std::to_string(s.threads),
                                       "--input-topic",  input_topic_,
                                       "--output-topic", out_topic,
                                       "--dlq-topic",    dlq_topic};
      if (s.exactly_once) {
        args.insert(args.end(), {"--delivery", "exactly_once", "--transactional-id", group + "-" + std::to_string(e)});
      }
      switch (s.mode) {
        case Mode::kFull:
          args.insert(args.end(), {"--rules", rules_dir_, "--redis", redis_url});
          break;
        case Mode::kNaive:
          args.insert(args.end(), {"--rules", rules_dir_, "--redis", redis_url, "--redis-calls", "per_operation"});
          break;
        case Mode::kFullNoModel:
          args.insert(args.end(), {"--rules", work_ + "/no-model", "--redis", redis_url});
          break;
        case Mode::kMemory:
          args.insert(args.end(), {"--rules", rules_dir_, "--redis", "memory"});
          break;
        case Mode::kPassthrough:
          args.insert(args.end(), {"--rules", work_ + "/passthrough", "--redis", "memory"});
          break;
      }
      engines.push_back(
          std::make_unique<ChildProcess>(args, work_ + "/engine-" + s.name + "-" + std::to_string(e) + ".log"));
      fleet.ports.push_back(port);
      fleet.pids.push_back(engines.back()->pid());
    }
    Result r;
    r.s = s;
    // Ready: every instance owns partitions (the group has settled).
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int port : fleet.ports) {
      while (Clock::now() < deadline &&
             fraud::testing::http_get(port, "/readyz").find("\"ready\":true") == std::string::npos) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (s.rate > 0) {
      measure_rate(s, r, fleet, producer.get(), gen, soak);
    } else {
      measure_backlog(s, r, fleet);
    }
    RedisUsage redis1 = redis_usage(redis_ports);
    // The engines' own view (stage latencies...), for digging into a run.
    for (std::size_t e = 0; e < fleet.ports.size(); ++e) {
      std::ofstream(out_dir_ + "/metrics-" + s.name + "-" + std::to_string(e) + ".txt")
          << fraud::testing::http_get(fleet.ports[e], "/metrics");
    }
    for (pid_t pid : fleet.pids) r.peak_rss_mb = std::max(r.peak_rss_mb, status_mb(pid, "VmHWM:"));
    if (s.mode == Mode::kFull || s.mode == Mode::kNaive || s.mode == Mode::kFullNoModel) {
      double events = static_cast<double>(std::max<std::uint64_t>(r.events, 1));
      r.redis_us_per_event = (redis1.cpu_s - redis0.cpu_s) * 1e6 / events;
      // Per batch and node: counts divided by batches x nodes a batch
      // touched at most (one node, or the cluster's masters). Round trips
      // are the engines' own count (sends it waited for); script calls are
      // Redis's (a round trip carries calls of up to 256 keys back to back).
      double per = static_cast<double>(batches_) * static_cast<double>(redis_ports.size());
      r.round_trips_per_batch = batches_ ? static_cast<double>(store_round_trips_) / per : 0;
      r.script_calls_per_batch = batches_ ? (redis1.script_calls - redis0.script_calls) / per : 0;
    }
    for (auto& e : engines) e->stop();
    return r;
  }

 private:
  struct Fleet {
    std::vector<int> ports;
    std::vector<pid_t> pids;
    std::optional<Stats> stats() const {  // summed over the instances
      Stats sum;
      for (int port : ports) {
        auto st = read_stats(port);
        if (!st) return std::nullopt;
        sum.acked += st->acked;
        sum.batches += st->batches;
        sum.store_round_trips += st->store_round_trips;
        for (int i = 0; i < LatencyRecorder::kBuckets; ++i) sum.latency[i] += st->latency[i];
        sum.at = st->at;
      }
      return sum;
    }
    double cpu_seconds() const {
      double total = 0;
      for (pid_t pid : pids) total += process_cpu_seconds(pid);
      return total;
    }
  };

  // Drains a preloaded backlog; throughput between the first and the last
  // acknowledgement.
  void measure_backlog(const Scenario& s, Result& r, const Fleet& fleet) {
    std::optional<Stats> first;
    double cpu0 = 0;
    auto deadline = Clock::now() + std::chrono::minutes(10);
    Stats last;
    while (Clock::now() < deadline) {
      auto st = fleet.stats();
      if (st && st->acked > 0 && !first) {
        first = st;
        cpu0 = fleet.cpu_seconds();
      }
      if (st) last = *st;
      if (st && st->acked >= s.events) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (first) window(r, fleet, *first, cpu0, last);
  }

  // The figures of a measured window between two snapshots of the fleet.
  void window(Result& r, const Fleet& fleet, const Stats& first, double cpu0, const Stats& last) {
    double secs = std::chrono::duration<double>(last.at - first.at).count();
    r.events = last.acked - first.acked;
    r.events_per_s = secs > 0 ? static_cast<double>(r.events) / secs : 0;
    r.engine_us_per_event =
        (fleet.cpu_seconds() - cpu0) * 1e6 / static_cast<double>(std::max<std::uint64_t>(r.events, 1));
    batches_ = last.batches;  // Redis calls are counted from the engine's start too
    store_round_trips_ = last.store_round_trips;
    r.p50_ms = quantile_ms(first, last, 0.5);
    r.p99_ms = quantile_ms(first, last, 0.99);
    r.p999_ms = quantile_ms(first, last, 0.999);
  }

  // Offers `s.rate` events/s; 3 s of warm-up, then `s.seconds` measured.
  void measure_rate(const Scenario& s, Result& r, const Fleet& fleet, rd_kafka_t* producer, SyntheticStream& gen,
                    bool soak) {
    std::string value;
    auto start = Clock::now();
    const double warmup = 3;
    std::optional<Stats> first;
    double cpu0 = 0;
    std::uint64_t sent = 0;
    auto next_sample = start;
    while (true) {
      double t = std::chrono::duration<double>(Clock::now() - start).count();
      if (t >= warmup + s.seconds) break;
      if (!first && t >= warmup) {
        first = fleet.stats();
        cpu0 = fleet.cpu_seconds();
      }
      if (soak && Clock::now() >= next_sample) {
        r.rss_samples.emplace_back(t, status_mb(fleet.pids.front(), "VmRSS:"));
        next_sample += std::chrono::seconds(10);
      }
      auto due = static_cast<std::uint64_t>(t * s.rate);
      while (sent < due) {
        value.clear();
        std::string key = gen.next(value);
        produce_one(producer, input_topic_, key, value);
        ++sent;
      }
      rd_kafka_poll(producer, 0);  // delivery reports, once per tick (syscalls are dear on a VM)
      std::this_thread::sleep_for(std::chrono::milliseconds(tick_ms));
    }
    auto last = fleet.stats();
    if (first && last) window(r, fleet, *first, cpu0, *last);
    rd_kafka_flush(producer, 30'000);
  }

  std::string binary_, rules_dir_, work_, out_dir_;
  std::unique_ptr<fraud::testing::KafkaCluster> apache_;  // --broker apache
  std::string input_topic_;                               // of the current run
  int runs_ = 0;
  std::uint64_t batches_ = 0;
  std::uint64_t store_round_trips_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fraudstream end-to-end load bench"};
  std::size_t events = 400'000;
  double soak_seconds = 0;
  double soak_rate = 20'000;
  std::string out_dir = std::string(FRAUD_SOURCE_DIR) + "/bench/results";
  std::string results_md = std::string(FRAUD_SOURCE_DIR) + "/bench/RESULTS.md";
  std::string only;
  std::vector<double> rates = {5'000, 10'000, 20'000, 30'000, 40'000, 60'000};
  app.add_option("--events", events, "Backlog size of each throughput scenario");
  app.add_option("--rates", rates, "Offered rates of the latency curve (events/s)");
  app.add_option("--soak", soak_seconds, "Also run a soak of this many seconds");
  app.add_option("--soak-rate", soak_rate, "Offered rate of the soak");
  // 50 ms per event at 20,000 events/s would replay 7 days of event time in
  // 10 minutes; 1 ms keeps it at 20x wall time (3.3 h in 10 minutes).
  std::int64_t soak_step_ms = 1;
  app.add_option("--soak-step-ms", soak_step_ms, "Mean event-time step of the soak's stream (ms per event)");
  app.add_option("--out", out_dir, "Directory for CSVs and the plot");
  app.add_option("--results", results_md, "Markdown report to write ('' to skip)");
  app.add_option("--only", only, "Run only scenarios whose name contains this");
  bool report_only = false;
  app.add_flag("--report-only", report_only, "Only re-render the plot and RESULTS.md from the CSVs in --out");
  std::string curve_mode = "full";
  app.add_option("--curve-mode", curve_mode, "Mode of the latency curve: full, memory or passthrough")
      ->check(CLI::IsMember({"full", "memory", "passthrough"}));
  int partitions = kPartitions;
  app.add_option("--partitions", partitions, "Partitions of the input and output topics (backlog scenarios)");
  app.add_option("--rate-partitions", kRatePartitions,
                 "Partitions of the input and output topics (fixed-rate scenarios)");
  app.add_option("--soak-partitions", kSoakPartitions, "Partitions of the input and output topics (the soak)");
  app.add_option("--soak-linger-ms", kSoakLingerMs, "linger.ms of the soak's load producer");
  app.add_option("--rate-linger-ms", kRateLingerMs, "linger.ms of the load producer of the fixed-rate rows");
  app.add_option("--tick-ms", tick_ms, "The load producer sends what is due every this many ms");
  app.add_option("--rate-threads", rate_threads,
                 "Pipeline threads of the engine in the rate-N scenarios (0: one per core)");
  int repeat = 1;
  std::string broker = "embedded";
  app.add_option("--broker", broker,
                 "embedded (librdkafka's mock cluster) or apache (a real Kafka 3.9 broker, plus the exactly-once row)")
      ->check(CLI::IsMember({"embedded", "apache"}));
  app.add_option("--repeat", repeat,
                 "Runs of each scenario (not the soak); the median one is kept (events/s; p99 for fixed rates)")
      ->check(CLI::Range(1, 9));
  CLI11_PARSE(app, argc, argv);
  kPartitions = partitions;
  // The engines below inherit this (see the header: the embedded broker
  // holds empty fetches for fetch.wait.max.ms); a value set by the caller wins.
  // A real broker answers a waiting fetch as soon as data arrives.
  if (broker == "apache") ::setenv("FRAUDSTREAM_KAFKA_FETCH_WAIT_MS", "100", 0);
  ::setenv("FRAUDSTREAM_KAFKA_FETCH_WAIT_MS", "2", 0);

  std::string binary = std::filesystem::canonical("/proc/self/exe").parent_path().string() + "/fraudstream";
  std::string work =
      std::filesystem::temp_directory_path().string() + "/fraudstream-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(out_dir);
  Bench bench(binary, std::string(FRAUD_SOURCE_DIR) + "/rules", work, out_dir);
  if (broker == "apache") {
    bench.use_apache_kafka();
    // The broker's own ceiling, beside the passthrough row: records the size
    // of the lending stream's events, as many as a backlog.
    std::printf("Apache Kafka's perf tools, %zu records of 200 bytes: %s\n", events,
                bench.kafka_perf("perf-ceiling", events, 200).c_str());
  }

  std::vector<Scenario> throughput = {
      {"passthrough", Mode::kPassthrough, 0, 2000, 0, events},   {"full", Mode::kFull, 0, 2000, 0, events},
      {"full-no-model", Mode::kFullNoModel, 0, 2000, 0, events}, {"memory-store", Mode::kMemory, 0, 2000, 0, events},
      {"naive", Mode::kNaive, 0, 2000, 0, events / 10},          {"hot-key", Mode::kFull, 0.5, 2000, 0, events},
  };
  if (bench.on_apache_kafka()) {
    Scenario eos{"full-exactly-once", Mode::kFull, 0, 2000, 0, events};
    eos.exactly_once = true;
    throughput.insert(throughput.begin() + 2, eos);
  }
  for (int b : {250, 500, 1000, 4000})
    throughput.push_back({"batch-" + std::to_string(b), Mode::kFull, 0, b, 0, events});
  for (int t : {1, 4}) throughput.push_back({"threads-" + std::to_string(t), Mode::kFull, 0, 2000, t, events});
  // Scale-out on this box: instances x threads, one Redis node vs a 3-master
  // Redis Cluster.
  for (auto [inst, thr, clu] : std::vector<std::tuple<int, int, bool>>{
           {2, 1, false}, {2, 2, false}, {3, 1, false}, {1, 2, true}, {2, 1, true}, {3, 1, true}}) {
    Scenario s{std::string(clu ? "cluster-" : "scale-") + std::to_string(inst) + "x" + std::to_string(thr),
               Mode::kFull,
               0,
               2000,
               thr,
               events};
    s.instances = inst;
    s.cluster = clu;
    throughput.push_back(s);
  }
  std::vector<Scenario> latency;
  Mode curve = curve_mode == "memory" ? Mode::kMemory : curve_mode == "passthrough" ? Mode::kPassthrough : Mode::kFull;
  for (double r : rates) {
    latency.push_back({"rate-" + std::to_string(static_cast<int>(r)), curve, 0, 2000, rate_threads, 0, r, 10});
  }
  // The latency floor of the Kafka path alone at the target's rate.
  latency.push_back({"passthrough-at-20000", Mode::kPassthrough, 0, 2000, 0, 0, 20000, 10});

  std::printf("%-22s %-11s %6s %4s %7s %10s %8s %8s %8s %6s %8s %8s %8s\n", "scenario", "mode", "batch", "thr",
              "offered", "events/s", "p50 ms", "p99 ms", "p99.9 ms", "RT/b", "redis us", "engine us", "RSS MB");
  std::vector<Result> results;
  std::optional<Result> soak;
  std::string cmdline;
  std::string run_date;  // when the run ended (report-only: as recorded)
  for (int i = 0; i < argc; ++i) cmdline += (i ? " " : "") + std::string(i ? argv[i] : "./build/bench_e2e");
  if (report_only) {
    // Re-render the plot and RESULTS.md from the saved CSVs of the last run.
    if (!load_results(out_dir, results, soak, cmdline, run_date)) {
      std::fprintf(stderr, "no results in %s (run the bench first)\n", out_dir.c_str());
      return 1;
    }
    if (run_date.empty()) run_date = "date not recorded";
    // The rows are medians of the recorded run's --repeat.
    if (auto at = cmdline.find("--repeat"); at != std::string::npos) repeat = std::atoi(cmdline.c_str() + at + 9);
    soak_seconds = soak ? soak->s.seconds : 0;
    throughput.clear();
    latency.clear();
  } else {
    std::ofstream(out_dir + "/command.txt") << cmdline << "\n";
  }
  auto wanted = [&](const Scenario& s) { return only.empty() || s.name.find(only) != std::string::npos; };
  // This VM swings by a third between minutes: with --repeat, each scenario
  // runs that many times (every run printed) and the median run is kept.
  auto median_run = [&](const Scenario& s) {
    std::vector<Result> runs;
    for (int i = 0; i < repeat; ++i) {
      runs.push_back(bench.run(s));
      if (repeat > 1) std::printf("  (run %d of %d) ", i + 1, repeat), print_row(runs.back());
    }
    auto key = [&](const Result& r) { return s.rate > 0 ? r.p99_ms : r.events_per_s; };
    std::sort(runs.begin(), runs.end(), [&](const Result& a, const Result& b) { return key(a) < key(b); });
    return runs[runs.size() / 2];
  };
  for (const auto& s : throughput) {
    if (!wanted(s)) continue;
    results.push_back(median_run(s));
    print_row(results.back());
  }
  for (const auto& s : latency) {
    if (!wanted(s)) continue;
    results.push_back(median_run(s));
    print_row(results.back());
  }
  if (soak_seconds > 0 && !report_only) {
    Scenario s{"soak", Mode::kFull, 0, 2000, 0, 0, soak_rate, soak_seconds};
    s.step_ms = soak_step_ms;
    soak = bench.run(s, true);
    print_row(*soak);
  }

  write_report(ReportInput{results, soak, out_dir, results_md, cmdline, run_date, repeat});
  bench.stop_kafka();
  std::filesystem::remove_all(work);
  return 0;
}

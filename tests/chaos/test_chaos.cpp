// The chaos suite: the real `fraudstream run` binary, the embedded Kafka
// (with its fault injection) and a real redis-server, broken on purpose with
// seeded randomness. Each scenario checks the two promises and prints its
// figures:
//   - every input message ends as a verdict or a DLQ record (lost == 0);
//   - velocity state counts every event exactly once: the final state of
//     every (feature, entity) in Redis equals a recomputation from the input
//     (feature mismatches == 0). Duplicated verdicts may appear only after a
//     crash and carry the same event_id; their number is reported.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include "../integration/kafka_helpers.h"
#include "../integration/redis_cluster.h"
#include "../integration/redis_server.h"
#include "../integration/test_kafka.h"
#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "engine/synthetic_stream.h"

namespace fs = std::filesystem;
using namespace fraud;
using namespace fraud::testing;

namespace {

constexpr int kPartitions = 4;
// Kafka protocol ApiKeys (the mock cluster injects errors per request type).
constexpr std::int16_t kApiProduce = 0, kApiFetch = 1, kApiOffsetCommit = 8;
const char* kSalt = "chaos-salt";

std::string rules_dir() { return std::string(FRAUD_SOURCE_DIR) + "/rules"; }

struct Input {
  std::vector<std::pair<std::string, std::string>> records;  // key, json
  std::set<std::string> valid_ids;
  std::size_t invalid = 0;
};

Input make_input(std::uint64_t seed, int n) {
  SyntheticOptions o;
  o.seed = seed;
  o.fraud_share = 0.1;
  o.customers = 5000;
  SyntheticStream s(o);
  std::mt19937 rng(static_cast<std::uint32_t>(seed));
  Input in;
  for (int i = 0; i < n; ++i) {
    std::string json;
    std::string key = s.next(json);
    if (rng() % 100 == 0) {
      json = rng() % 2 ? json.substr(0, json.size() / 2) : "[\"not an object\"]";
      ++in.invalid;
    } else {
      auto p = json.find("\"event_id\":\"") + 12;
      in.valid_ids.insert(json.substr(p, json.find('"', p) - p));
    }
    in.records.emplace_back(key, json);
  }
  return in;
}

std::string redis_url(int port) { return "redis://127.0.0.1:" + std::to_string(port); }

// Engines of one consumer group, started and killed at will.
class Fleet {
 public:
  Fleet(const TestKafka& kafka, int redis_port, std::string group)
      : Fleet(kafka, redis_url(redis_port), std::move(group)) {}
  Fleet(const TestKafka& kafka, std::string redis, std::string group, std::vector<std::string> extra = {})
      : bootstrap_(kafka.bootstrap()),
        in_(kafka.topic("in")),
        out_(kafka.topic("out")),
        dlq_(kafka.topic("dlq")),
        redis_(std::move(redis)),
        group_(kafka.group(group)),
        extra_(std::move(extra)) {}

  // `metrics_port` 0: no ops endpoints. `transactional_id`: for
  // --delivery exactly_once (each engine its own; a restart reuses it).
  ChildProcess& start(int metrics_port = 0, const std::string& transactional_id = "") {
    std::vector<std::string> args = {
        FRAUD_BINARY,   "run",  "--rules",       rules_dir(), "--kafka",        bootstrap_,
        "--redis",      redis_, "--input-topic", in_,         "--output-topic", out_,
        "--dlq-topic",  dlq_,   "--group",       group_,      "--metrics-port", std::to_string(metrics_port),
        "--batch-size", "500"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    if (!transactional_id.empty()) {
      args.insert(args.end(), {"--delivery", "exactly_once", "--transactional-id", group_ + "-" + transactional_id});
    }
    engines_.push_back(std::make_unique<ChildProcess>(args));
    return *engines_.back();
  }
  ChildProcess& at(std::size_t i) { return *engines_.at(i); }
  std::size_t size() const { return engines_.size(); }
  ChildProcess& last() { return *engines_.back(); }
  void stop_all() {
    for (auto& e : engines_) {
      if (e->alive()) e->stop(SIGTERM);
    }
  }

 private:
  std::string bootstrap_;
  std::string in_, out_, dlq_;
  std::string redis_;
  std::string group_;
  std::vector<std::string> extra_;
  std::vector<std::unique_ptr<ChildProcess>> engines_;
};

struct Figures {
  std::size_t events_in = 0, verdicts = 0, unique = 0, duplicates = 0, dlq = 0, mismatches = 0, lost = 0;
  std::size_t dlq_records = 0;  // dead letters read (dlq: distinct sources among them)
};

// Waits until every valid event has a verdict and every invalid one a DLQ
// record (or the deadline), then compares the feature state with a replay.
Figures collect(const std::string& name, const TestKafka& kafka, const Input& in, const std::string& redis,
                std::chrono::seconds deadline = std::chrono::seconds(90)) {
  Figures f;
  f.events_in = in.records.size();
  std::vector<Record> out, dlq;
  auto until = std::chrono::steady_clock::now() + deadline;
  std::set<std::string> seen, dlq_sources;
  while (std::chrono::steady_clock::now() < until) {
    out = consume(kafka.bootstrap(), kafka.topic("out"), in.valid_ids.size() + 100000, std::chrono::seconds(8));
    dlq = consume(kafka.bootstrap(), kafka.topic("dlq"), in.invalid + 100000, std::chrono::seconds(6));
    seen.clear();
    dlq_sources.clear();
    for (const auto& r : out) {
      auto p = r.value.find("\"event_id\":\"") + 12;
      seen.insert(r.value.substr(p, r.value.find('"', p) - p));
    }
    for (auto& d : dlq) dlq_sources.insert(d.headers["dlq.source.partition"] + "/" + d.headers["dlq.source.offset"]);
    if (seen.size() >= in.valid_ids.size() && dlq_sources.size() >= in.invalid) break;
  }
  f.verdicts = out.size();
  f.unique = seen.size();
  f.duplicates = f.verdicts - f.unique;
  f.dlq = dlq_sources.size();
  f.dlq_records = dlq.size();
  for (const auto& id : in.valid_ids) f.lost += seen.count(id) ? 0 : 1;
  f.lost += in.invalid > f.dlq ? in.invalid - f.dlq : 0;

  // Feature state: Redis (written by the engines) against a replay of the
  // input in memory, read at the end of every window.
  auto pack = load_pack_directory(rules_dir());
  const RuleSet& rs = *pack.rules;
  // The same stages the engines ran, in one batch, on an in-memory store.
  MemoryFeatureStore memory;
  BatchRunner replay(memory, BatchRunner::Options{.read_all_features = true, .encode_verdicts = false});
  std::vector<SourceRecord> records(in.records.size());
  for (std::size_t i = 0; i < in.records.size(); ++i) records[i].value = in.records[i].second;
  const PipelineBatch& b = replay.run(pack.rules, records);
  EXPECT_TRUE(b.store_status.ok);
  std::int64_t max_ts = 0;
  for (const Event* e : b.ptrs) max_ts = std::max(max_ts, e->ts_ms);
  // Read-only ops for every (feature, entity) of the input, at the last bucket.
  const BatchProcessor& planner = b.processor;
  std::vector<FeatureOp> reads;
  std::set<std::pair<std::uint32_t, std::string>> done;
  for (FeatureOp op : planner.ops()) {
    if (!done.emplace(op.feature, std::string(op.key)).second) continue;
    op.update = false;
    op.read = true;
    op.bucket = max_ts / rs.features[op.feature].resolution_ms;
    reads.push_back(op);
  }
  std::vector<Value> want(reads.size()), got(reads.size());
  EXPECT_TRUE(memory.apply(rs, reads, want).ok);
  RedisFeatureStore store(*parse_redis_seeds(redis), kSalt);
  StoreStatus st = store.apply(rs, reads, got);
  EXPECT_TRUE(st.ok) << st.error;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    bool same =
        want[i].is_null() ? got[i].is_null() : got[i].is_number() && std::abs(got[i].number - want[i].number) < 1e-6;
    if (!same) {
      ++f.mismatches;
      if (f.mismatches <= 3) {
        ADD_FAILURE() << name << ": feature " << rs.features[reads[i].feature].name << " key " << reads[i].key
                      << " want " << want[i].number << " got " << got[i].number;
      }
    }
  }
  std::printf(
      "chaos %-22s events in %6zu | verdicts out %6zu | unique %6zu | duplicates %4zu | DLQ %4zu | "
      "feature mismatches %zu (of %zu) | lost %zu\n",
      name.c_str(), f.events_in, f.verdicts, f.unique, f.duplicates, f.dlq, f.mismatches, reads.size(), f.lost);
  std::fflush(stdout);
  return f;
}

void produce_in_chunks(const TestKafka& kafka, const Input& in, std::size_t from, std::size_t to) {
  std::vector<std::pair<std::string, std::string>> chunk(in.records.begin() + static_cast<long>(from),
                                                         in.records.begin() + static_cast<long>(to));
  produce_all(kafka.bootstrap(), kafka.topic("in"), chunk);
}

// Produces the input in chunks of `chunk` records every `pause`, while
// scenarios inject faults; the records from `held_from` on wait for
// release(), so every fault lands while events still arrive.
class PacedProducer {
 public:
  PacedProducer(const TestKafka& kafka, const Input& in, std::size_t chunk, std::chrono::milliseconds pause,
                std::size_t held_from)
      : thread_([this, &kafka, &in, chunk, pause, held_from] {
          for (std::size_t i = 0; i < in.records.size(); i += chunk) {
            if (i >= held_from) {
              while (!released_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            const std::size_t to = std::min(in.records.size(), i + chunk);
            produce_in_chunks(kafka, in, i, to);
            produced_.store(to);
            std::this_thread::sleep_for(pause);
          }
        }) {}
  ~PacedProducer() { join(); }
  PacedProducer(const PacedProducer&) = delete;
  PacedProducer& operator=(const PacedProducer&) = delete;

  void release() { released_.store(true); }
  // Releases the held records and waits until everything was produced.
  void join() {
    release();
    if (thread_.joinable()) thread_.join();
  }
  std::size_t produced() const { return produced_.load(); }

 private:
  std::atomic<bool> released_{false};
  std::atomic<std::size_t> produced_{0};
  std::thread thread_;  // last: starts once the flags exist
};

class Chaos : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("FRAUDSTREAM_KAFKA_PROPERTIES_SESSION_TIMEOUT_MS", "6000", 1);
    ::setenv("FRAUDSTREAM_REDIS_SALT", kSalt, 1);
  }
};

// Polls a field of the engine's /stats until it reaches `at_least` or the
// deadline passes; returns the last value seen (0 while unreachable).
std::uint64_t wait_for_stat(int port, const std::string& field, std::uint64_t at_least,
                            std::chrono::seconds deadline = std::chrono::seconds(30)) {
  std::uint64_t value = 0;
  auto until = std::chrono::steady_clock::now() + deadline;
  do {
    std::string body = http_get(port, "/stats");
    auto p = body.find("\"" + field + "\":");
    if (p != std::string::npos) value = std::stoull(body.substr(p + field.size() + 3));
    if (value >= at_least) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < until);
  return value;
}

void expect_promises(const Figures& f, const Input& in) {
  EXPECT_EQ(f.lost, 0u);
  EXPECT_EQ(f.mismatches, 0u);
  EXPECT_EQ(f.unique, in.valid_ids.size()) << "one verdict per valid event";
  EXPECT_EQ(f.dlq, in.invalid) << "one DLQ record per invalid message";
}

}  // namespace

TEST_F(Chaos, Kill9AtRandomPointsAndRestart) {
  RedisServer redis;
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  Input in = make_input(101, 12000);
  Fleet fleet(kafka, redis.port(), "chaos-kill");
  std::mt19937 rng(7);
  int ops = free_tcp_port();
  fleet.start(ops);
  // Events keep arriving while the engine is killed at random points; the
  // last fifth waits for the last kill, so every kill lands mid-stream.
  PacedProducer producer(kafka, in, 150, std::chrono::milliseconds(450), in.records.size() * 4 / 5);
  for (int round = 0; round < 3; ++round) {
    // Each engine is killed at a random point after its first verdicts.
    EXPECT_GT(wait_for_stat(ops, "verdicts", 1, std::chrono::seconds(40)), 0u)
        << "round " << round << ": the engine works before it is killed";
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1500));
    EXPECT_LT(producer.produced(), in.records.size()) << "round " << round << ": killed while events still arrive";
    fleet.last().stop(SIGKILL);
    ops = free_tcp_port();
    fleet.start(ops);
  }
  producer.release();
  EXPECT_GT(wait_for_stat(ops, "verdicts", 1, std::chrono::seconds(40)), 0u) << "the last engine takes over";
  producer.join();
  Figures f = collect("kill -9 x3", kafka, in, redis_url(redis.port()));
  fleet.stop_all();
  expect_promises(f, in);
}

// Exactly-once: two engines with transactional output; one is killed -9 at a
// random point mid-stream and restarts with its transactional.id (fencing its
// dead self's open transaction), then the other leaves gracefully (a
// rebalance). A read_committed reader sees every event's output once.
TEST_F(Chaos, ExactlyOnceThroughKill9AndRebalance) {
  RedisServer redis;
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  ASSERT_TRUE(kafka.is_apache_kafka()) << "transactions need a real broker";
  Input in = make_input(808, 10000);
  Fleet fleet(kafka, redis.port(), "chaos-eos");
  std::mt19937 rng(11);
  const int a_ops = free_tcp_port(), b_ops = free_tcp_port();
  fleet.start(a_ops, "a");
  ChildProcess& b = fleet.start(b_ops, "b");
  ASSERT_GT(wait_for_stat(a_ops, "assigned_partitions", 1), 0u);
  ASSERT_GT(wait_for_stat(b_ops, "assigned_partitions", 1), 0u);
  PacedProducer producer(kafka, in, 200, std::chrono::milliseconds(300), in.records.size() * 4 / 5);
  ASSERT_GT(wait_for_stat(a_ops, "verdicts", 1), 0u) << "engine a works before it is killed";
  std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
  fleet.at(0).stop(SIGKILL);
  const int a2_ops = free_tcp_port();
  fleet.start(a2_ops, "a");  // the same transactional.id
  EXPECT_GT(wait_for_stat(a2_ops, "verdicts", 1, std::chrono::seconds(40)), 0u) << "the restarted engine works";
  EXPECT_EQ(b.stop(SIGTERM), 0);  // leaves: its partitions move to the restarted engine
  producer.release();
  producer.join();
  Figures f = collect("exactly-once", kafka, in, redis_url(redis.port()));
  fleet.stop_all();
  expect_promises(f, in);
  EXPECT_EQ(f.duplicates, 0u) << "read_committed: one verdict per event across kill -9 and a rebalance";
  EXPECT_EQ(f.dlq_records, f.dlq) << "and one dead letter per invalid record";
}

// Broker faults on a 3-broker cluster of its own (replication 3,
// min.insync.replicas 2, acks=all, idempotent and transactional producers),
// engines in exactly-once mode: the leader of an input partition and then
// of a verdict partition killed -9 mid-stream and restarted, a rolling
// restart of all three brokers, and a broker frozen (SIGSTOP) for 20 s. An
// engine that exits on a transaction it cannot commit is restarted with its
// transactional.id, as Kubernetes would. 0 lost, 0 duplicates under
// read_committed, features exact.
TEST_F(Chaos, ThreeBrokersLeaderKillsRollingRestartAndAFrozenBroker) {
  KafkaCluster cluster(::testing::TempDir() + "/chaos-3-brokers-" + std::to_string(::getpid()), "--brokers 3");
  TestKafka kafka(cluster.bootstrap(), {{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}}, 3);
  RedisServer redis;
  Input in = make_input(909, 12000);
  Fleet fleet(kafka, redis.port(), "chaos-brokers");
  const int ops[2] = {free_tcp_port(), free_tcp_port()};
  const char* ids[2] = {"a", "b"};
  fleet.start(ops[0], ids[0]);
  fleet.start(ops[1], ids[1]);
  ASSERT_GT(wait_for_stat(ops[0], "assigned_partitions", 1), 0u);
  ASSERT_GT(wait_for_stat(ops[1], "assigned_partitions", 1), 0u);
  // The supervisor: an engine that exited comes back with its id.
  std::atomic<bool> done{false};
  std::atomic<int> restarts{0};
  std::vector<std::size_t> slot_of = {0, 1};  // engine index in the fleet per slot
  std::mutex fleet_mu;
  std::thread supervisor([&] {
    while (!done.load()) {
      {
        std::lock_guard lock(fleet_mu);
        for (std::size_t k = 0; k < 2; ++k) {
          if (!fleet.at(slot_of[k]).exited()) continue;
          fleet.start(ops[k], ids[k]);
          slot_of[k] = fleet.size() - 1;
          ++restarts;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  // ~200 events/s: the first 90% last about a minute, through every fault.
  PacedProducer producer(kafka, in, 50, std::chrono::milliseconds(250), in.records.size() * 9 / 10);
  // Each fault must land while verdicts flow, and verdicts must flow after
  // it: an engine's count grows (or starts again after a restart).
  auto progress = [&](const std::string& fault) {
    std::uint64_t at[2] = {wait_for_stat(ops[0], "verdicts", 0), wait_for_stat(ops[1], "verdicts", 0)};
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    bool moved = false;
    while (!moved && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (int k = 0; k < 2; ++k) {
        std::uint64_t v = wait_for_stat(ops[k], "verdicts", 0);
        moved |= v > at[k] || (v < at[k] && v > 0);
      }
    }
    EXPECT_TRUE(moved) << "verdicts flow after " << fault;
  };
  progress("the start");
  for (const char* topic : {"in", "out"}) {
    const int leader = cluster.leader(kafka.topic(topic), 0);
    ASSERT_GT(leader, 0) << topic;
    cluster.kill(leader);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the fault lasts a while
    cluster.restart(leader);
    progress(std::string("kill -9 of the leader of ") + topic + "-0");
  }
  for (int node = 1; node <= 3; ++node) {
    cluster.stop(node);
    cluster.restart(node);
  }
  progress("a rolling restart");
  const int frozen = cluster.leader(kafka.topic("in"), 1);
  ASSERT_GT(frozen, 0);
  cluster.kill(frozen, "STOP");
  std::this_thread::sleep_for(std::chrono::seconds(20));
  cluster.kill(frozen, "CONT");
  progress("a broker frozen for 20 s");
  producer.release();
  producer.join();
  Figures f = collect("3 brokers, faults", kafka, in, redis_url(redis.port()), std::chrono::seconds(120));
  done.store(true);
  supervisor.join();
  std::printf("chaos 3 brokers: engines restarted %d time(s)\n", restarts.load());
  fleet.stop_all();
  expect_promises(f, in);
  EXPECT_EQ(f.duplicates, 0u) << "read_committed: one verdict per event through broker faults";
  EXPECT_EQ(f.dlq_records, f.dlq);
}

TEST_F(Chaos, RedisRestartMidStream) {
  fs::path data = fs::path(::testing::TempDir()) / "chaos-redis-data";
  fs::remove_all(data);
  fs::create_directories(data);
  auto redis = std::make_unique<RedisServer>("", "", 0, data.string());
  int port = redis->port();
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  Input in = make_input(202, 8000);
  Fleet fleet(kafka, port, "chaos-redis-restart");
  const int ops = free_tcp_port();
  fleet.start(ops);
  produce_in_chunks(kafka, in, 0, 4000);
  const std::uint64_t before = wait_for_stat(ops, "verdicts", 1);
  ASSERT_GT(before, 0u) << "verdicts flow before the fault";
  redis->stop();  // SIGTERM: the AOF is complete
  produce_in_chunks(kafka, in, 4000, 6000);
  EXPECT_GT(wait_for_stat(ops, "store_failures", 1), 0u) << "the restart must hit the engine while events wait";
  redis = std::make_unique<RedisServer>("", "", port, data.string());
  produce_in_chunks(kafka, in, 6000, in.records.size());
  Figures f = collect("redis restart", kafka, in, redis_url(port));
  fleet.stop_all();
  expect_promises(f, in);
}

TEST_F(Chaos, RedisUnreachableFor30Seconds) {
  RedisServer redis;
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  Input in = make_input(303, 6000);
  Fleet fleet(kafka, redis.port(), "chaos-redis-outage");
  const int ops = free_tcp_port();
  fleet.start(ops);
  produce_in_chunks(kafka, in, 0, 2000);
  ASSERT_GT(wait_for_stat(ops, "verdicts", 1), 0u) << "verdicts flow before the fault";
  ::kill(redis.pid(), SIGSTOP);  // unreachable: connections hang, then time out
  auto outage_start = std::chrono::steady_clock::now();
  produce_in_chunks(kafka, in, 2000, 4000);
  EXPECT_GT(wait_for_stat(ops, "store_failures", 1), 0u) << "the outage must hit the engine while events wait";
  // While Redis is away (policy pause) no verdict goes out.
  const std::uint64_t during = wait_for_stat(ops, "verdicts", 0);
  std::this_thread::sleep_until(outage_start + std::chrono::seconds(30));
  EXPECT_EQ(wait_for_stat(ops, "verdicts", 0), during) << "policy pause: no verdict without features";
  ::kill(redis.pid(), SIGCONT);
  produce_in_chunks(kafka, in, 4000, in.records.size());
  EXPECT_TRUE(fleet.last().alive()) << "the engine must survive the outage (policy pause)";
  Figures f = collect("redis down 30s", kafka, in, redis_url(redis.port()));
  fleet.stop_all();
  expect_promises(f, in);
}

TEST_F(Chaos, BrokerDownAndRequestErrors) {
  RedisServer redis;
  // Request errors, added latency and a broker down: faults only the mock
  // cluster injects (the other scenarios run on the real broker).
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}}, TestKafka::Kind::kMock);
  rd_kafka_mock_cluster_t* mock = kafka.embedded()->cluster();
  Input in = make_input(404, 8000);
  Fleet fleet(kafka, redis.port(), "chaos-broker");
  const int ops = free_tcp_port();
  fleet.start(ops);
  produce_in_chunks(kafka, in, 0, 3000);
  const std::uint64_t before = wait_for_stat(ops, "verdicts", 1);
  ASSERT_GT(before, 0u) << "verdicts flow before the faults";
  // Retriable errors on produce, fetch and offset commit, and added latency.
  rd_kafka_mock_push_request_errors(mock, kApiProduce, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors(mock, kApiFetch, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  rd_kafka_mock_push_request_errors(mock, kApiOffsetCommit, 2, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  rd_kafka_mock_broker_set_rtt(mock, 1, 50);
  produce_in_chunks(kafka, in, 3000, 5000);
  EXPECT_GT(wait_for_stat(ops, "verdicts", before + 1), before) << "verdicts go out through the errors and latency";
  rd_kafka_mock_broker_set_rtt(mock, 1, 0);
  rd_kafka_mock_broker_set_down(mock, 1);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  rd_kafka_mock_broker_set_up(mock, 1);
  produce_in_chunks(kafka, in, 5000, in.records.size());
  Figures f = collect("broker faults", kafka, in, redis_url(redis.port()));
  EXPECT_TRUE(fleet.last().alive());
  fleet.stop_all();
  expect_promises(f, in);
}

TEST_F(Chaos, InstancesJoinAndLeaveTheGroup) {
  RedisServer redis;
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  Input in = make_input(505, 12000);
  Fleet fleet(kafka, redis.port(), "chaos-rebalance");
  const int first_ops = free_tcp_port();
  ChildProcess& first = fleet.start(first_ops);
  produce_in_chunks(kafka, in, 0, 4000);
  ASSERT_GT(wait_for_stat(first_ops, "verdicts", 1), 0u) << "the first engine works before the second joins";
  const int second_ops = free_tcp_port();
  ChildProcess& second = fleet.start(second_ops);  // joins: cooperative rebalance
  // Events arrive once it holds partitions, and it leaves only after
  // producing verdicts of its own (else the first engine drains them all).
  EXPECT_GT(wait_for_stat(second_ops, "assigned_partitions", 1), 0u) << "the second engine got partitions";
  produce_in_chunks(kafka, in, 4000, 8000);
  EXPECT_GT(wait_for_stat(second_ops, "verdicts", 1), 0u) << "the second engine worked before leaving";
  EXPECT_EQ(second.stop(SIGTERM), 0);  // leaves gracefully mid-stream
  produce_in_chunks(kafka, in, 8000, in.records.size());
  Figures f = collect("join + leave", kafka, in, redis_url(redis.port()));
  EXPECT_TRUE(first.alive());
  fleet.stop_all();
  expect_promises(f, in);
  EXPECT_EQ(f.duplicates, 0u) << "a graceful rebalance duplicates nothing";
}

TEST_F(Chaos, SigstopPastTheSessionTimeout) {
  RedisServer redis;
  TestKafka kafka({{"in", kPartitions}, {"out", kPartitions}, {"dlq", 1}});
  Input in = make_input(606, 8000);
  Fleet fleet(kafka, redis.port(), "chaos-sigstop");
  const int a_ops = free_tcp_port(), b_ops = free_tcp_port();
  ChildProcess& a = fleet.start(a_ops);
  fleet.start(b_ops);
  // The group settles (both hold partitions) before events arrive.
  ASSERT_GT(wait_for_stat(a_ops, "assigned_partitions", 1), 0u);
  ASSERT_GT(wait_for_stat(b_ops, "assigned_partitions", 1), 0u);
  produce_in_chunks(kafka, in, 0, 3000);
  ASSERT_GT(wait_for_stat(a_ops, "verdicts", 1), 0u) << "the engine to freeze works before it freezes";
  ::kill(a.pid(), SIGSTOP);  // frozen past the 6 s session: its partitions move
  produce_in_chunks(kafka, in, 3000, 6000);
  // The other engine takes every partition once the frozen one's session expires.
  EXPECT_EQ(wait_for_stat(b_ops, "assigned_partitions", kPartitions, std::chrono::seconds(40)),
            static_cast<std::uint64_t>(kPartitions))
      << "the frozen engine's partitions must move";
  ::kill(a.pid(), SIGCONT);
  produce_in_chunks(kafka, in, 6000, in.records.size());
  Figures f = collect("SIGSTOP 12s", kafka, in, redis_url(redis.port()));
  fleet.stop_all();
  expect_promises(f, in);
}

// Scale-out: three engines in one group on a 12-partition topic, state in a
// 3-master Redis Cluster (one replica each, WAIT for it). One engine is
// killed (-9) and one Redis master is killed mid-stream (its replica takes
// over; the node comes back as a replica, as Kubernetes would restart it).
// Cross-partition features (device, IP, ID number while events are keyed by
// customer) must still equal a recomputation from the input.
TEST_F(Chaos, ThreeEnginesOnARedisClusterLoseAnEngineAndAMaster) {
  RedisCluster cluster(3, 1);
  TestKafka kafka({{"in", 12}, {"out", 12}, {"dlq", 1}});
  Input in = make_input(707, 15000);
  Fleet fleet(kafka, cluster.url(), "scale-out", {"--redis-wait-replicas", "1"});
  const int ops[3] = {free_tcp_port(), free_tcp_port(), free_tcp_port()};
  for (int port : ops) fleet.start(port);
  // The second half of the input waits for both faults, so they land mid-stream.
  PacedProducer producer(kafka, in, 250, std::chrono::milliseconds(400), in.records.size() / 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_GT(wait_for_stat(ops[i], "verdicts", 1, std::chrono::seconds(40)), 0u)
        << "engine " << i << " works before the faults";
  }
  fleet.at(1).stop(SIGKILL);
  auto masters = cluster.masters();
  ASSERT_EQ(masters.size(), 3u);
  const std::uint64_t refreshes =
      wait_for_stat(ops[0], "store_topology_refreshes", 0) + wait_for_stat(ops[2], "store_topology_refreshes", 0);
  const std::uint64_t verdicts = wait_for_stat(ops[0], "verdicts", 0) + wait_for_stat(ops[2], "verdicts", 0);
  cluster.kill(masters[0]);
  EXPECT_TRUE(cluster.wait_healthy(std::chrono::seconds(30)));  // the replica took over
  cluster.restart(masters[0]);
  producer.release();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uint64_t refreshes_after = refreshes, verdicts_after = verdicts;
  while (std::chrono::steady_clock::now() < deadline && (refreshes_after == refreshes || verdicts_after == verdicts)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    refreshes_after =
        wait_for_stat(ops[0], "store_topology_refreshes", 0) + wait_for_stat(ops[2], "store_topology_refreshes", 0);
    verdicts_after = wait_for_stat(ops[0], "verdicts", 0) + wait_for_stat(ops[2], "verdicts", 0);
  }
  EXPECT_GT(refreshes_after, refreshes) << "the surviving engines noticed the failover";
  EXPECT_GT(verdicts_after, verdicts) << "and kept producing verdicts after it";
  producer.join();
  Figures f = collect("3 engines, cluster", kafka, in, cluster.url(), std::chrono::seconds(120));
  EXPECT_TRUE(fleet.at(0).alive());
  EXPECT_TRUE(fleet.at(2).alive());
  fleet.stop_all();
  expect_promises(f, in);
}

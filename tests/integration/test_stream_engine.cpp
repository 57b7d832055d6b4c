// The streaming engine end to end, as a lending platform sees it: a real
// redis-server, the embedded Kafka over TCP, the `fraudstream run` binary as
// a child process, events produced and verdicts consumed with plain
// librdkafka clients.
#include <gtest/gtest.h>

#include <cstdlib>

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <sstream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/cli/replay.h"
#include "engine/pack_loader.h"
#include "engine/synthetic_stream.h"
#include "kafka_helpers.h"
#include "redis_server.h"
#include "test_kafka.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

// `fraudstream run` with Redis needs a salt (no built-in one); the child
// processes inherit it.
const bool kTestSalt = [] {
  ::setenv("FRAUDSTREAM_REDIS_SALT", "test-salt", 0);
  return true;
}();

std::string rules_dir() { return std::string(FRAUD_SOURCE_DIR) + "/rules"; }

// The embedded cluster only forgets a member that left when its session
// times out, so a restarted engine would wait 45 s to be assigned; a short
// session keeps the restart test fast. Inherited by the child processes.
const bool kShortSessions = [] {
  ::setenv("FRAUDSTREAM_KAFKA_PROPERTIES_SESSION_TIMEOUT_MS", "6000", 1);
  return true;
}();

// A generated stream with malformed records mixed in.
std::vector<std::pair<std::string, std::string>> make_stream(int n, std::uint64_t seed) {
  SyntheticOptions o;
  o.seed = seed;
  o.fraud_share = 0.1;
  o.customers = 3000;
  SyntheticStream s(o);
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < n; ++i) {
    std::string json;
    std::string key = s.next(json);
    switch (i % 97) {
      case 13:
        json = "not json at all";
        break;
      case 41:
        json = "[1,2,3]";
        break;
      case 77:
        json = R"({"event_id":"x","event_type":"loan_application"})";
        break;
      case 29:
      case 58: {
        // Three hours late (an app offline): past max_lateness for the
        // hourly features, so its verdict lists them in late_features.
        std::size_t at = json.find("\"ts\":") + 5;
        std::size_t end = json.find_first_not_of("0123456789", at);
        json.replace(at, end - at, std::to_string(std::stoll(json.substr(at, end - at)) - 3 * 3'600'000));
        break;
      }
      default:
        break;
    }
    out.emplace_back(key, json);
  }
  return out;
}

// The environment a running process sees (its /proc entry), one variable
// per line; empty once it has gone.
std::string environment_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(env.begin(), env.end(), '\0', '\n');
  return env;
}

}  // namespace

TEST(StreamEngine, VerdictsEqualReplayAndBadRecordsGoToTheDlq) {
  RedisServer redis;
  TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
  auto stream = make_stream(3000, 5);
  produce_all(kafka.bootstrap(), kafka.topic("in"), stream);

  ChildProcess engine({FRAUD_BINARY,     "run",
                       "--rules",        rules_dir(),
                       "--kafka",        kafka.bootstrap(),
                       "--redis",        "redis://127.0.0.1:" + std::to_string(redis.port()),
                       "--input-topic",  kafka.topic("in"),
                       "--output-topic", kafka.topic("out"),
                       "--dlq-topic",    kafka.topic("dlq"),
                       "--group",        kafka.group("g1"),
                       "--metrics-port", "0",
                       "--batch-size",   "256"});

  // The same events through the offline engine, with the Kafka topic as source name.
  auto pack = load_pack_directory(rules_dir());
  ASSERT_TRUE(pack.ok());
  std::string lines;
  for (const auto& [k, v] : stream) lines += v + "\n";
  std::istringstream in(lines);
  std::ostringstream want_out, errors;
  MemoryFeatureStore memory;
  ReplayOptions ro;
  ro.source_name = kafka.topic("in");
  ReplayStats stats = replay_events(*pack.rules, memory, in, &want_out, errors, ro);
  std::vector<std::string> want;
  std::istringstream wl(want_out.str());
  for (std::string l; std::getline(wl, l);) want.push_back(l);
  ASSERT_EQ(want.size(), stats.events);

  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), want.size());
  auto dead = consume(kafka.bootstrap(), kafka.topic("dlq"), stats.invalid);
  EXPECT_EQ(engine.stop(SIGTERM), 0) << "graceful stop must exit 0";

  ASSERT_EQ(verdicts.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(verdicts[i].value, want[i]) << "verdict " << i;
  }
  std::size_t late = 0;
  for (const auto& w : want) late += w.find("\"late_features\":[") != std::string::npos;
  EXPECT_GE(late, 5u) << "late events are in the stream, flagged alike live and in replay";
  // Same key as the input.
  std::set<std::string> keys;
  for (const auto& [k, v] : stream) keys.insert(k);
  for (const auto& v : verdicts) EXPECT_TRUE(keys.count(v.key)) << v.key;

  ASSERT_EQ(dead.size(), stats.invalid);
  std::map<std::string, int> reasons;
  for (auto& d : dead) {
    ++reasons[d.headers["dlq.reason"]];
    EXPECT_EQ(d.headers["dlq.source.topic"], kafka.topic("in"));
    std::int64_t off = std::stoll(d.headers["dlq.source.offset"]);
    EXPECT_EQ(d.value, stream[static_cast<std::size_t>(off)].second) << "original bytes kept";
    EXPECT_EQ(d.key, stream[static_cast<std::size_t>(off)].first) << "original key kept";
    EXPECT_FALSE(d.headers["dlq.error"].empty());
  }
  EXPECT_GT(reasons["invalid_json"], 0);
  EXPECT_GT(reasons["not_object"], 0);
  EXPECT_GT(reasons["missing_field"], 0);

  auto offsets = committed(kafka.bootstrap(), kafka.group("g1"), kafka.topic("in"), 1);
  EXPECT_EQ(offsets[0], static_cast<std::int64_t>(stream.size())) << "committed offset at the end of the log";
}

TEST(StreamEngine, ManyPartitionsOneVerdictPerEventAndRestartResumes) {
  RedisServer redis;
  TestKafka kafka({{"in", 4}, {"out", 4}, {"dlq", 1}});
  auto first = make_stream(2000, 8);
  produce_all(kafka.bootstrap(), kafka.topic("in"), first);
  std::vector<std::string> args = {FRAUD_BINARY,     "run",
                                   "--rules",        rules_dir(),
                                   "--kafka",        kafka.bootstrap(),
                                   "--redis",        "redis://127.0.0.1:" + std::to_string(redis.port()),
                                   "--input-topic",  kafka.topic("in"),
                                   "--output-topic", kafka.topic("out"),
                                   "--dlq-topic",    kafka.topic("dlq"),
                                   "--group",        kafka.group("g2"),
                                   "--metrics-port", "0"};
  std::size_t invalid = 0;
  for (const auto& [k, v] : first) invalid += v[0] != '{' || v.find("\"ts\"") == std::string::npos;
  {
    ChildProcess engine(args);
    auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), first.size() - invalid);
    EXPECT_EQ(engine.stop(SIGTERM), 0);
    EXPECT_EQ(verdicts.size(), first.size() - invalid);
  }
  // A second run of the same group only sees what came after the commit.
  auto second = make_stream(500, 9);
  produce_all(kafka.bootstrap(), kafka.topic("in"), second);
  std::size_t invalid2 = 0;
  for (const auto& [k, v] : second) invalid2 += v[0] != '{' || v.find("\"ts\"") == std::string::npos;
  ChildProcess engine(args);
  std::size_t total = first.size() - invalid + second.size() - invalid2;
  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), total, std::chrono::seconds(90));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // a duplicate would arrive now
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  std::set<std::string> ids;
  for (const auto& v : verdicts) {
    auto p = v.value.find("\"event_id\":\"");
    ids.insert(v.value.substr(p + 12, v.value.find('"', p + 12) - p - 12));
  }
  EXPECT_EQ(verdicts.size(), total) << "no event processed twice, none skipped";
  EXPECT_EQ(ids.size(), total);
  auto offsets = committed(kafka.bootstrap(), kafka.group("g2"), kafka.topic("in"), 4);
  std::int64_t sum = 0;
  for (const auto& [p, o] : offsets) sum += o;
  EXPECT_EQ(sum, static_cast<std::int64_t>(first.size() + second.size()));
}

TEST(StreamEngine, OversizedEventsGoToTheDlqAndThePartitionKeepsFlowing) {
  TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
  std::string big =
      R"({"event_id":"big","event_type":"loan_application","ts":1,"pad":")" + std::string(5000, 'x') + "\"}";
  produce_all(kafka.bootstrap(), kafka.topic("in"),
              {{"k1", R"({"event_id":"a","event_type":"repayment","ts":1})"},
               {"k2", big},
               {"k3", R"({"event_id":"b","event_type":"repayment","ts":2})"}});
  ::setenv("FRAUDSTREAM_PIPELINE_MAX_EVENT_BYTES", "4096", 1);
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", rules_dir(), "--kafka", kafka.bootstrap(), "--redis", "memory",
                       "--input-topic", kafka.topic("in"), "--output-topic", kafka.topic("out"), "--dlq-topic",
                       kafka.topic("dlq"), "--group", kafka.group("g3"), "--metrics-port", "0"});
  ::unsetenv("FRAUDSTREAM_PIPELINE_MAX_EVENT_BYTES");
  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), 2);
  auto dead = consume(kafka.bootstrap(), kafka.topic("dlq"), 1);
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_NE(verdicts[1].value.find(R"("event_id":"b")"), std::string::npos);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers["dlq.reason"], "too_large");
  EXPECT_EQ(dead[0].value, big);
}

TEST(KafkaCommand, PrintsBootstrapAndServesTopics) {
  std::string out_file = ::testing::TempDir() + "/kafka_cmd.txt";
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::execl(FRAUD_BINARY, FRAUD_BINARY, "kafka", "--brokers", "2", "--topic", "loans:3", nullptr);
    ::_exit(127);
  }
  std::string bootstrap;
  for (int i = 0; i < 100 && bootstrap.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(out_file);
    std::getline(in, bootstrap);
  }
  ASSERT_FALSE(bootstrap.empty());
  EXPECT_NE(bootstrap.find("127.0.0.1:"), std::string::npos);
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 30; ++i) records.emplace_back("k" + std::to_string(i), "v" + std::to_string(i));
  produce_all(bootstrap, "loans", records);
  auto got = consume(bootstrap, "loans", 30);
  EXPECT_EQ(got.size(), 30u);
  std::set<int> partitions;
  for (const auto& r : got) partitions.insert(r.partition);
  EXPECT_EQ(partitions.size(), 3u);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// huge_pages.h: one-shot evaluations back the heap with 2 MB pages (fewer
// page faults); the long-running engine keeps the default heap, where the
// holes left by freed states do not keep whole 2 MB pages resident.
TEST(ProcessHeap, ReplayUsesHugePagesAndTheLongRunningEngineDoesNot) {
  ::unsetenv("GLIBC_TUNABLES");
  ::unsetenv("FRAUDSTREAM_NO_HUGE_PAGES");
  const std::string kHugePages = "GLIBC_TUNABLES=glibc.malloc.hugetlb=1";

  // replay reads its events from a FIFO, so it waits, re-executed, until we write.
  std::string fifo = ::testing::TempDir() + "/replay-events-" + std::to_string(::getpid());
  ::unlink(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ChildProcess replay({FRAUD_BINARY, "replay", "--rules", rules_dir(), "--events", fifo, "--out", "/dev/null"});
  std::string env;
  for (int i = 0; i < 200 && env.find(kHugePages) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    env = environment_of(replay.pid());
  }
  EXPECT_NE(env.find(kHugePages), std::string::npos) << env;
  // Non-blocking: if replay never opens the FIFO, fail rather than hang.
  int fd = -1;
  for (int i = 0; i < 200 && fd < 0; ++i) {
    fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(fd, 0) << "replay never opened its events";
  const std::string line = R"({"event_id":"a","event_type":"repayment","ts":1})"
                           "\n";
  EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  ::close(fd);
  EXPECT_EQ(replay.stop(0), 0);
  ::unlink(fifo.c_str());

  TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
  produce_all(kafka.bootstrap(), kafka.topic("in"), {{"k1", R"({"event_id":"a","event_type":"repayment","ts":1})"}});
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", rules_dir(), "--kafka", kafka.bootstrap(), "--redis", "memory",
                       "--input-topic", kafka.topic("in"), "--output-topic", kafka.topic("out"), "--dlq-topic",
                       kafka.topic("dlq"), "--group", kafka.group("heap"), "--metrics-port", "0"});
  ASSERT_EQ(consume(kafka.bootstrap(), kafka.topic("out"), 1).size(), 1u);  // running, well past any re-exec
  env = environment_of(engine.pid());
  EXPECT_NE(env.find("FRAUDSTREAM_KAFKA_PROPERTIES_SESSION_TIMEOUT_MS"), std::string::npos) << env;
  EXPECT_EQ(env.find("GLIBC_TUNABLES"), std::string::npos) << env;
  EXPECT_EQ(engine.stop(SIGTERM), 0);
}

TEST(StreamEngine, HostileMessagesNeverStopThePartition) {
  TestKafka kafka({{"out", 1}, {"dlq", 1}});
  kafka.create_topic("in", 1, 1, {{"max.message.bytes", "20000000"}});  // takes the 10 MB record
  const std::string head = R"({"event_id":"ID","event_type":"loan_application","ts":1772355600000,)";
  auto ev = [&](const std::string& id, const std::string& rest) {
    std::string h = head;
    h.replace(h.find("ID"), 2, id);
    return h + rest + "}";
  };
  std::vector<std::pair<std::string, std::string>> msgs = {
      {"", ev("ok-1", R"("amount":1000)")},  // empty key
      // 10 MB: over the 1 MiB event limit (the mock cluster keeps only ~5 MB
      // per partition: FRAUDSTREAM_TEST_KAFKA=embedded cannot run this test).
      {"k", ev("big", "\"pad\":\"" + std::string(10 << 20, 'x') + "\"")},
      {"k", ev("deep", "\"a\":" + std::string(100000, '[') + std::string(100000, ']'))},
      {"k", ev("utf8", "\"name\":\"\xc3\x28\"")},
      {"k", ev("huge-number", "\"amount\":123456789012345678901234567890")},  // valid: a number
      {"k", ev("inf", "\"amount\":1e400")},
      {"k", ev("wrong-types", R"("amount":"a lot","device_id":[1,2],"id_number":{"x":true})")},  // valid
      {"k", ""},                                                                                 // empty value
      {"k", R"({"event_id":"","event_type":"x","ts":1})"},
      {"k", ev("ok-2", R"("amount":2000)")},
      // ts in microseconds (year 58,000): valid, evaluated at record time + max_future.
      {"k", R"({"event_id":"future","event_type":"loan_application","ts":1772355600000000,"amount":5})"},
  };
  auto p = make_kafka_client(RD_KAFKA_PRODUCER, make_kafka_conf({{"bootstrap.servers", kafka.bootstrap()},
                                                                 {"message.max.bytes", "20000000"},
                                                                 {"log_level", "3"}}));
  for (const auto& [k, v] : msgs) {
    ASSERT_EQ(rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(kafka.topic("in").c_str()),
                                RD_KAFKA_V_KEY(k.empty() ? nullptr : k.data(), k.size()),
                                RD_KAFKA_V_VALUE(v.empty() ? nullptr : const_cast<char*>(v.data()), v.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_EQ(rd_kafka_flush(p.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", rules_dir(), "--kafka", kafka.bootstrap(), "--redis", "memory",
                       "--input-topic", kafka.topic("in"), "--output-topic", kafka.topic("out"), "--dlq-topic",
                       kafka.topic("dlq"), "--group", kafka.group("hostile"), "--metrics-port", "0"});
  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), 5);
  auto dead = consume(kafka.bootstrap(), kafka.topic("dlq"), 6);
  EXPECT_EQ(engine.stop(SIGTERM), 0) << "the engine survived and stops cleanly";
  std::set<std::string> ids;
  for (const auto& v : verdicts) {
    auto at = v.value.find("\"event_id\":\"") + 12;
    ids.insert(v.value.substr(at, v.value.find('"', at) - at));
  }
  EXPECT_EQ(ids, (std::set<std::string>{"ok-1", "huge-number", "wrong-types", "ok-2", "future"}));
  for (const auto& v : verdicts) {
    bool future = v.value.find(R"("event_id":"future")") != std::string::npos;
    EXPECT_EQ(v.value.find(R"("ts_clamped_from":1772355600000000)") != std::string::npos, future) << v.value;
  }
  std::map<std::int64_t, std::string> reasons;
  for (auto& d : dead) reasons[std::stoll(d.headers["dlq.source.offset"])] = d.headers["dlq.reason"];
  EXPECT_EQ(reasons, (std::map<std::int64_t, std::string>{{1, "too_large"},
                                                          {2, "invalid_json"},
                                                          {3, "invalid_json"},
                                                          {5, "invalid_json"},
                                                          {7, "invalid_json"},
                                                          {8, "invalid_field"}}));
  for (auto& d : dead) {
    if (d.headers["dlq.reason"] == "too_large") {
      EXPECT_EQ(d.headers["dlq.truncated"], "true");
      EXPECT_EQ(d.headers["dlq.original.size"], std::to_string(msgs[1].second.size()));
    }
  }
}

// Records whose verdict or dead letter would exceed the output limit (Kafka's
// 1,000,000-byte message.max.bytes): before, each made the produce fail, the
// engine exit 1 without committing, and the restarted engine die on the same
// record again. Now they are dead letters cut to fit, and the engine goes on.
TEST(StreamEngine, RecordsTooLargeForTheOutputAreDeadLetteredNotACrashLoop) {
  TestKafka kafka({{"out", 1}, {"dlq", 1}});
  // The input topic takes bigger records than the output (a broker's default is 1 MiB).
  kafka.create_topic("in", 1, 1, {{"max.message.bytes", "20000000"}});
  auto p = make_kafka_client(RD_KAFKA_PRODUCER, make_kafka_conf({{"bootstrap.servers", kafka.bootstrap()},
                                                                 {"message.max.bytes", "20000000"},
                                                                 {"log_level", "3"}}));
  auto produce = [&](const std::string& key, const std::string& value, rd_kafka_headers_t* headers = nullptr) {
    ASSERT_EQ(
        rd_kafka_producev(p.get(), RD_KAFKA_V_TOPIC(kafka.topic("in").c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(headers),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
        RD_KAFKA_RESP_ERR_NO_ERROR);
  };
  auto event = [](const std::string& id) {
    return R"({"event_id":")" + id + R"(","event_type":"repayment","ts":1772355600000,"amount":10})";
  };
  const std::string long_id(1'000'000, 'i');  // a valid event under the 1 MiB limit; its verdict is not
  const std::string long_key(1'200'000, 'k');
  produce("k0", event("ok-1"));
  produce("k1", event(long_id));
  produce(long_key, event("long-key"));
  rd_kafka_headers_t* h = rd_kafka_headers_new(2);
  std::string big_header(1'100'000, 'h');
  rd_kafka_header_add(h, "trace", -1, big_header.data(), static_cast<ssize_t>(big_header.size()));
  produce("k3", "not json", h);
  produce("k4", event("ok-2"));
  ASSERT_EQ(rd_kafka_flush(p.get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  std::string log = ::testing::TempDir() + "/too_large_output.log";
  ChildProcess engine({FRAUD_BINARY, "run", "--rules", rules_dir(), "--kafka", kafka.bootstrap(), "--redis", "memory",
                       "--input-topic", kafka.topic("in"), "--output-topic", kafka.topic("out"), "--dlq-topic",
                       kafka.topic("dlq"), "--group", kafka.group("too-large"), "--metrics-port", "0"},
                      log);
  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), 2);
  auto dead = consume(kafka.bootstrap(), kafka.topic("dlq"), 3);
  EXPECT_TRUE(engine.alive()) << "the engine did not exit on a record it cannot produce";
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_NE(verdicts[0].value.find(R"("event_id":"ok-1")"), std::string::npos);
  EXPECT_NE(verdicts[1].value.find(R"("event_id":"ok-2")"), std::string::npos);
  ASSERT_EQ(dead.size(), 3u);
  std::map<std::int64_t, Record> by_offset;
  for (auto& d : dead) by_offset[std::stoll(d.headers["dlq.source.offset"])] = d;
  ASSERT_EQ(by_offset.size(), 3u);
  const Record& id = by_offset[1];
  EXPECT_EQ(id.headers.at("dlq.reason"), "verdict_too_large");
  EXPECT_EQ(id.key, "k1");
  // 1,000,072 bytes: under the 1 MiB event limit, over the producer's 1,000,000.
  EXPECT_EQ(id.headers.at("dlq.truncated"), "true");
  EXPECT_EQ(id.headers.at("dlq.original.size"), std::to_string(event(long_id).size()));
  EXPECT_GT(id.value.size(), 990'000u);
  EXPECT_TRUE(event(long_id).starts_with(id.value)) << "the DLQ keeps the head of the original bytes";
  const Record& key = by_offset[2];
  EXPECT_EQ(key.headers.at("dlq.reason"), "verdict_too_large");
  EXPECT_EQ(key.headers.at("dlq.key.truncated"), "true");
  EXPECT_EQ(key.headers.at("dlq.original.key.size"), std::to_string(long_key.size()));
  EXPECT_TRUE(key.key == long_key.substr(0, 1024)) << key.key.size();
  EXPECT_EQ(key.value, event("long-key"));
  const Record& headers = by_offset[3];
  EXPECT_EQ(headers.headers.at("dlq.reason"), "invalid_json");
  EXPECT_EQ(headers.headers.at("dlq.headers.dropped"), "true");
  EXPECT_EQ(headers.headers.count("trace"), 0u);
  EXPECT_EQ(headers.value, "not json");
  auto committed_offsets = committed(kafka.bootstrap(), kafka.group("too-large"), kafka.topic("in"), 1);
  EXPECT_EQ(committed_offsets[0], 5) << "every record, the oversized ones too, is behind the committed offset";
}

TEST(StreamEngine, FailurePoliciesWhenRedisIsUnreachable) {
  for (std::string policy : {"fail_open", "fail_closed"}) {
    TestKafka kafka({{"in", 1}, {"out", 1}, {"dlq", 1}});
    produce_all(
        kafka.bootstrap(), kafka.topic("in"),
        {{"k1", R"({"event_id":"a","event_type":"loan_application","ts":1,"device_id":"dev-blk-0001"})"},
         {"k2", R"({"event_id":"b","event_type":"loan_application","ts":2,"device_id":"d-ok","id_number":"X"})"}});
    int dead_port = free_tcp_port();  // nothing listens here
    ChildProcess engine({FRAUD_BINARY,       "run",
                         "--rules",          rules_dir(),
                         "--kafka",          kafka.bootstrap(),
                         "--redis",          "redis://127.0.0.1:" + std::to_string(dead_port),
                         "--input-topic",    kafka.topic("in"),
                         "--output-topic",   kafka.topic("out"),
                         "--dlq-topic",      kafka.topic("dlq"),
                         "--group",          kafka.group("policy-" + policy),
                         "--metrics-port",   "0",
                         "--failure-policy", policy});
    auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), 2);
    EXPECT_EQ(engine.stop(SIGTERM), 0);
    ASSERT_EQ(verdicts.size(), 2u) << policy;
    for (const auto& v : verdicts) EXPECT_NE(v.value.find("\"degraded\":true"), std::string::npos) << v.value;
    // The blocked device needs no feature: it declines under both policies.
    EXPECT_NE(verdicts[0].value.find("\"decision\":\"decline\""), std::string::npos) << verdicts[0].value;
    std::string second = policy == "fail_open" ? "\"decision\":\"allow\"" : "\"decision\":\"decline\"";
    EXPECT_NE(verdicts[1].value.find(second), std::string::npos) << policy << ": " << verdicts[1].value;
  }
}

// A broker slow to acknowledge verdicts (every response 300 ms late):
// produced batches wait for their acknowledgements holding only offsets,
// while at most 2 x max_in_flight + 2 batches hold events' buffers; every
// verdict still arrives.
TEST(StreamEngine, ABrokerSlowToAcknowledgeDoesNotPileUpBatchBuffers) {
  RedisServer redis;
  // Latency on every request: a fault only the mock cluster injects.
  TestKafka kafka({{"in", 2}, {"out", 2}, {"dlq", 1}}, TestKafka::Kind::kMock);
  auto events = make_stream(4000, 21);
  produce_all(kafka.bootstrap(), kafka.topic("in"), events);
  std::size_t invalid = 0;
  for (const auto& [k, v] : events) invalid += v[0] != '{' || v.find("\"ts\"") == std::string::npos;
  rd_kafka_mock_broker_set_rtt(kafka.embedded()->cluster(), 1, 300);
  int port = free_tcp_port();
  ::setenv("FRAUDSTREAM_PIPELINE_MAX_IN_FLIGHT", "2", 1);  // at most 6 batches with buffers
  ChildProcess engine({FRAUD_BINARY,     "run",
                       "--rules",        rules_dir(),
                       "--kafka",        kafka.bootstrap(),
                       "--redis",        "redis://127.0.0.1:" + std::to_string(redis.port()),
                       "--input-topic",  kafka.topic("in"),
                       "--output-topic", kafka.topic("out"),
                       "--dlq-topic",    kafka.topic("dlq"),
                       "--group",        kafka.group("slow-acks"),
                       "--metrics-port", std::to_string(port),
                       "--batch-size",   "50"});
  ::unsetenv("FRAUDSTREAM_PIPELINE_MAX_IN_FLIGHT");
  std::atomic<bool> done{false};
  double most_in_flight = 0, most_buffers = 0;
  std::thread sampler([&] {
    while (!done.load()) {
      std::string page = http_get(port, "/metrics");
      most_in_flight = std::max(most_in_flight, metric_value(page, "fraud_batches_in_flight"));
      most_buffers = std::max(most_buffers, metric_value(page, "fraud_batch_buffers"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto verdicts = consume(kafka.bootstrap(), kafka.topic("out"), events.size() - invalid, std::chrono::seconds(120));
  done.store(true);
  sampler.join();
  EXPECT_EQ(engine.stop(SIGTERM), 0);
  EXPECT_EQ(verdicts.size(), events.size() - invalid);
  EXPECT_GT(most_in_flight, 6.0) << "acknowledgements lagged behind";
  EXPECT_GT(most_buffers, 0.0);
  EXPECT_LE(most_buffers, 6.0);
}

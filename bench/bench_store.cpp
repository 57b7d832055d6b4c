// Feature store benchmark on a real redis-server (started here, loopback).
//
// Hypothesis: with one script call per batch, Redis spends at most 5 us of
// CPU per event of the shipped pack, and the engine side of the store
// (grouping, hashing, encoding) costs less than 2 us per event; the naive
// reference (one synchronous round trip per feature operation) is more
// than 10x slower per event.
// Scenarios: the shipped pack's feature ops for a synthetic stream, applied
// in batches through RedisFeatureStore (per batch) and the naive mode; the
// in-memory store for comparison.
// Sizes: 100,000 events (seed 7, 200,000 customers, idempotency on, as in
// the stream engine), batches of 500 and 2000; 20,000 events for naive.
// Counters: events/s (wall, engine + Redis on this box), redis_us/event
// (Redis used_cpu_user+sys from INFO), round trips per batch, keys the
// script computed per event, new keys created with a plain SET NX per event.
// BENCH_CACHE_KEYS sets the engine's cache size (redis.cache_keys; default
// 1,048,576 copies in at most 256 MB, redis.cache_mb).
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
#include <memory>

#include "bench/redis_info.h"
#include "bench/shipped_pack.h"
#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "engine/synthetic_stream.h"
#include "tests/integration/redis_server.h"

using namespace fraud;

namespace {

using bench::shipped_pack;

struct ParsedStream {
  std::vector<std::string> lines;
};

const ParsedStream& stream() {
  static ParsedStream s = [] {
    ParsedStream p;
    SyntheticOptions o;
    o.seed = 7;
    SyntheticStream gen(o);
    p.lines.resize(100'000);
    for (auto& l : p.lines) gen.next(l);
    return p;
  }();
  return s;
}

testing::RedisServer& server() {
  static testing::RedisServer s;
  return s;
}

// Microseconds Redis spent in one command (INFO commandstats), 0 if unused.
double command_usec(const std::string& stats, const std::string& command) {
  auto at = stats.find("cmdstat_" + command + ":");
  if (at == std::string::npos) return 0;
  return bench::info_number(stats.substr(at), "usec=");
}

void flush_redis() {
  redisContext* c = redisConnect("127.0.0.1", server().port());
  freeReplyObject(redisCommand(c, "FLUSHALL"));
  freeReplyObject(redisCommand(c, "CONFIG RESETSTAT"));
  redisFree(c);
}

// Runs `count` records through `store` in batches with the pipeline's
// stages, overlapped as the stream engine overlaps them: the next batch is
// prepared (parsed, planned, digested, announced for prefetch) before this
// one's features are applied. Returns records processed.
std::size_t run_stream(FeatureStore& store, std::size_t batch, std::size_t count, std::int32_t partition) {
  const auto& s = stream();
  static const std::vector<SourceRecord> records = BatchRunner::records_of(s.lines);
  const auto rules = shipped_pack();
  BatchRunner runner(store, BatchRunner::Options{.idempotent = true,
                                                 .encode_verdicts = false,
                                                 .failure_policy = StoreFailurePolicy::kFailClosed,
                                                 .source_name = "loan-events"});
  std::unique_ptr<PipelineBatch> b[2] = {runner.new_batch(), runner.new_batch()};
  count = std::min(count, records.size());
  auto prepare = [&](std::size_t k) {
    std::size_t start = k * batch;
    if (start >= count) return;
    std::vector<SourceRecord> slice(records.begin() + static_cast<std::ptrdiff_t>(start),
                                    records.begin() + static_cast<std::ptrdiff_t>(std::min(count, start + batch)));
    for (auto& r : slice) r.partition = partition;
    runner.prepare(*b[k % 2], rules, slice);
  };
  prepare(0);
  for (std::size_t k = 0; k * batch < count; ++k) {
    prepare(k + 1);
    const StoreStatus& st = runner.finish(*b[k % 2]);
    if (!st.ok) throw std::runtime_error(st.error);
  }
  return count;
}

// Args: batch size, mode (0 per batch, 1 naive per operation).
void BM_RedisStore(benchmark::State& state) {
  auto batch = static_cast<std::size_t>(state.range(0));
  auto mode = state.range(1) ? RedisCallMode::kPerOperation : RedisCallMode::kPerBatch;
  std::size_t count = mode == RedisCallMode::kPerBatch ? 100'000 : 20'000;
  testing::RedisServer& srv = server();
  std::size_t events = 0;
  double redis_cpu = 0;
  std::uint64_t round_trips = 0, batches = 0, script_keys = 0, created_keys = 0;
  for (auto _ : state) {
    state.PauseTiming();
    flush_redis();
    RedisEndpoint ep;
    ep.port = srv.port();
    RedisStoreOptions so;
    so.timeout_ms = 5000;
    so.mode = mode;
    if (const char* ck = std::getenv("BENCH_CACHE_KEYS")) so.cache_keys = std::stoul(ck);
    RedisFeatureStore store({ep}, "bench-salt", so);
    if (!store.connect().ok) throw std::runtime_error("redis connect");
    double cpu0 = bench::redis_cpu_seconds(server().port());
    state.ResumeTiming();
    events += run_stream(store, batch, count, 0);
    state.PauseTiming();
    redis_cpu += bench::redis_cpu_seconds(server().port()) - cpu0;
    round_trips += store.counters().round_trips;
    script_keys += store.counters().keys_script_computed;
    created_keys += store.counters().keys_created;
    batches += (count + batch - 1) / batch;
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["redis_us/event"] = redis_cpu * 1e6 / static_cast<double>(events);
  // Of which (last iteration, commands' own time from commandstats): the
  // script calls (with the commands they make), and every SET and MGET (the
  // script's and the plain SET NX creates).
  std::string stats = bench::redis_info(server().port(), "commandstats");
  double per = static_cast<double>(count);
  state.counters["script_us/event"] = command_usec(stats, "evalsha") / per;
  state.counters["get_set_us/event"] = (command_usec(stats, "set") + command_usec(stats, "mget")) / per;
  // For the scaling model (docs/scaling.md): keys written per event, bytes
  // on the wire per event, memory per (feature, entity) key.
  std::string net = bench::redis_info(server().port(), "stats");
  std::string mem = bench::redis_info(server().port(), "memory");
  std::string keyspace = bench::redis_info(server().port(), "keyspace");
  double keys = bench::info_number(keyspace, "keys=");
  state.counters["keys/event"] =
      command_usec(stats, "set") > 0 ? bench::info_number(stats, "cmdstat_set:calls=") / per : 0;
  state.counters["bytes_in/event"] = bench::info_number(net, "total_net_input_bytes:") / per;
  state.counters["bytes_out/event"] = bench::info_number(net, "total_net_output_bytes:") / per;
  state.counters["mem_bytes/key"] = keys > 0 ? bench::info_number(mem, "used_memory_dataset:") / keys : 0;
  state.counters["keys"] = keys;
  // Keys the script computed (no good copy here), per event.
  state.counters["script_keys/event"] = static_cast<double>(script_keys) / static_cast<double>(events);
  // New keys written with a plain SET NX (no script), per event.
  state.counters["created_keys/event"] = static_cast<double>(created_keys) / static_cast<double>(events);
  state.counters["round_trips/batch"] = static_cast<double>(round_trips) / static_cast<double>(batches);
}
BENCHMARK(BM_RedisStore)
    ->Args({500, 0})
    ->Args({2000, 0})
    ->Args({500, 1})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();

void BM_MemoryStore(benchmark::State& state) {
  std::size_t events = 0;
  for (auto _ : state) {
    MemoryFeatureStore store;
    events += run_stream(store, static_cast<std::size_t>(state.range(0)), 100'000, 0);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}
BENCHMARK(BM_MemoryStore)->Arg(2000)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

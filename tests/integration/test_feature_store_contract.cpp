// One contract suite, two stores: every scenario runs against the in-process
// MemoryFeatureStore and the RedisFeatureStore on a real redis-server, and
// both must give the same values (the memory store is itself checked against
// a naive reference in tests/unit/test_reference_stream.cpp).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <random>
#include <thread>

#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "engine/pipeline/local_run.h"
#include "engine/synthetic_stream.h"
#include "redis_cluster.h"
#include "redis_server.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

const char* kPack = R"(features:
  - name: cnt
    agg: count
    by: k
    window: 1h
    resolution: 10m
  - name: total
    agg: sum
    of: amount
    by: k
    window: 1h
    resolution: 10m
  - name: lo
    agg: min
    of: amount
    by: k
    window: 1h
    resolution: 10m
  - name: hi
    agg: max
    of: amount
    by: [k, j]
    window: 30m
    resolution: 1m
  - name: mean
    agg: avg
    of: amount
    by: k
    window: 1h
    resolution: 10m
  - name: uniq
    agg: distinct
    of: v
    by: k
    window: 1h
    resolution: 10m
    where: event_type == "app"
)";

std::shared_ptr<const RuleSet> pack() {
  static auto r = compile_pack({{"p.yaml", kPack}});
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
  return r.rules;
}

// Runs `lines` in batches through `store`; returns every feature value of
// every event as text (read_all_features).
// `retry`: a failed batch is tried again (as the engine's `pause` policy
// does) for up to a minute instead of failing the test.
// `announce`: before each batch is applied, the batch `announce` batches
// later in `lines` (even past `last`) is planned and announced to the store
// (FeatureStore::prefetch), as the engine does while its features stage is
// behind.
std::vector<std::string> run(FeatureStore& store, const RuleSet& rules, const std::vector<std::string>& lines,
                             std::size_t batch, bool idempotent, std::int32_t partition = 0, bool retry = false,
                             std::size_t first = 0, std::size_t last = SIZE_MAX, std::size_t announce = 0) {
  BatchRunner runner(store, BatchRunner::Options{.read_all_features = true, .idempotent = idempotent});
  auto ahead = runner.new_batch();
  const auto pack = borrowed(rules);
  std::vector<std::string> out;
  last = std::min(last, lines.size());
  auto records = BatchRunner::records_of(lines, partition);
  auto slice = [&](std::size_t start, std::size_t n) { return std::span(records).subspan(start, n); };
  for (std::size_t start = first; start < last; start += batch) {
    std::size_t n = std::min(batch, last - start);
    if (std::size_t later = start + announce * batch; announce > 0 && later < lines.size()) {
      runner.prepare(*ahead, pack, slice(later, std::min(batch, lines.size() - later)));
    }
    const PipelineBatch* b = &runner.run(pack, slice(start, n));
    for (int tries = 0; retry && !b->store_status.ok && tries < 300; ++tries) {
      std::fprintf(stderr, "batch at %zu: %s (retrying)\n", start, b->store_status.error.c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      b = &runner.run(pack, slice(start, n));
    }
    EXPECT_TRUE(b->store_status.ok) << b->store_status.error;
    EXPECT_EQ(b->ptrs.size(), n);
    const BatchProcessor& p = b->processor;
    const std::vector<Verdict>& v = b->verdicts;
    for (std::size_t i = 0; i < n; ++i) {
      std::string s;
      for (const Value& f : p.features_of(i)) {
        if (f.is_number()) {
          append_number(s, f.number);
        } else {
          append_json_text(s, f);
        }
        s += " ";
      }
      for (std::size_t k = 0; k < v[i].late_count; ++k) s += "late:" + rules.features[v[i].late_features[k]].name + " ";
      out.push_back(s);
    }
  }
  return out;
}

// `keys` entities; a small number makes every batch hit the same few keys
// many times (the hot-key path of the script). `late_ms`: how late an event
// may be (a tenth of them up to 10x that: too late for the default 1h).
std::vector<std::string> stream(std::uint32_t seed, int n, unsigned keys = 25, std::int64_t late_ms = 600'000) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::int64_t ts = 1'772'000'000'000 + i * 15'000 - static_cast<std::int64_t>(rng() % late_ms);
    if (late_ms > 600'000 && rng() % 10 == 0) ts -= static_cast<std::int64_t>(rng() % (9 * late_ms));
    std::string e = "{\"event_id\":\"e" + std::to_string(i) + "\",\"event_type\":\"" + (rng() % 3 ? "app" : "pay") +
                    "\",\"ts\":" + std::to_string(ts);
    if (rng() % 20) e += ",\"k\":\"u" + std::to_string(rng() % keys) + "\"";
    if (rng() % 4) e += ",\"j\":" + std::to_string(rng() % 3);
    switch (rng() % 5) {
      case 0:
        e += ",\"amount\":\"12\"";
        break;
      case 1:
        break;
      case 2:
        e += ",\"amount\":" + std::to_string((rng() % 10000) / 100.0);
        break;
      default:
        e += ",\"amount\":" + std::to_string(rng() % 1000);
    }
    if (rng() % 6) e += ",\"v\":\"id" + std::to_string(rng() % 9) + "\"";
    out.push_back(e + "}");
  }
  return out;
}

class FeatureStoreContract : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  std::unique_ptr<RedisFeatureStore> redis(const std::string& salt = "test-salt",
                                           RedisCallMode mode = RedisCallMode::kPerBatch) {
    return redis_with(salt, RedisStoreOptions{.mode = mode});
  }
  std::unique_ptr<RedisFeatureStore> redis_with(const std::string& salt, RedisStoreOptions options) {
    RedisEndpoint ep;
    ep.port = server_->port();
    auto s = std::make_unique<RedisFeatureStore>(std::vector<RedisEndpoint>{ep}, salt, options);
    EXPECT_TRUE(s->connect().ok);
    return s;
  }
  static RedisServer* server_;
};
RedisServer* FeatureStoreContract::server_ = nullptr;

}  // namespace

TEST_F(FeatureStoreContract, SameValuesAsMemoryOnARandomStream) {
  auto rules = pack();
  auto lines = stream(11, 4000);
  MemoryFeatureStore memory;
  auto r = redis("contract-1");
  auto want = run(memory, *rules, lines, 97, false);
  auto got = run(*r, *rules, lines, 97, false);
  ASSERT_EQ(want.size(), got.size());
  int diffs = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i] && ++diffs < 5)
      ADD_FAILURE() << lines[i] << "\n memory: " << want[i] << "\n redis:  " << got[i];
  }
  EXPECT_EQ(diffs, 0);
  EXPECT_EQ(r->counters().round_trips, (lines.size() + 96) / 97);  // one per batch
  // One writer on fresh keys: the engine computed every key on its copy and
  // the script only ever confirmed and stored; new keys were created with a
  // plain SET NX, none of them there already.
  EXPECT_GT(r->counters().keys_engine_computed, 0u);
  EXPECT_EQ(r->counters().keys_script_computed, 0u);
  EXPECT_GT(r->counters().keys_created, 0u);
  EXPECT_LT(r->counters().keys_created, r->counters().keys_engine_computed);  // later batches: the script's stamp check
  EXPECT_EQ(r->counters().create_conflicts, 0u);
  EXPECT_EQ(r->counters().absence_conflicts, 0u);
}

// A key one engine only reads and holds no value of, which another engine
// has written meanwhile: the EXISTS finds it, and the script computes it in
// a second round trip, so the read is the other engine's value.
// Events up to hours late (RULES.md "Late events"): within max_lateness
// exact, beyond it flagged (late_features) and read over the kept buckets
// only. Memory, the engine's copies and the script agree on every value and
// every flag, whatever the batch size.
TEST_F(FeatureStoreContract, LateEventsGiveTheSameValuesAndFlagsEverywhere) {
  auto rules = pack();
  auto lines = stream(17, 3000, 10, 1'800'000);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 100, true);
  std::size_t flagged = 0;
  for (const auto& w : want) flagged += w.find("late:") != std::string::npos;
  EXPECT_GT(flagged, 100u);  // the stream does reach past max_lateness
  EXPECT_LT(flagged, lines.size() / 2);
  auto engine = redis("late-engine");
  EXPECT_EQ(want, run(*engine, *rules, lines, 100, true));
  auto script = redis_with("late-script", RedisStoreOptions{.cache_keys = 0});
  EXPECT_EQ(want, run(*script, *rules, lines, 100, true));
  EXPECT_EQ(script->counters().keys_engine_computed, 0u);
  MemoryFeatureStore one_by_one;
  EXPECT_EQ(want, run(one_by_one, *rules, lines, 1, true));
}

TEST_F(FeatureStoreContract, AbsenceChecksThatFindTheKeyLetTheScriptCompute) {
  auto rules = pack();
  const std::vector<std::string> lines = {
      R"({"event_id":"a","event_type":"pay","ts":1772000000000,"k":"x","v":"id1"})",  // reads uniq: none yet
      R"({"event_id":"b","event_type":"app","ts":1772000001000,"k":"x","v":"id2"})",  // the other engine adds id2
      R"({"event_id":"c","event_type":"pay","ts":1772000002000,"k":"x","v":"id3"})",  // reads uniq: 1
  };
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 1, true);
  auto a = redis("absence");
  auto b = redis("absence");
  std::vector<std::string> got = run(*a, *rules, lines, 1, true, 0, false, 0, 1);
  auto part = run(*b, *rules, lines, 1, true, 0, false, 1, 2);
  got.insert(got.end(), part.begin(), part.end());
  const std::uint64_t round_trips = a->counters().round_trips;
  part = run(*a, *rules, lines, 1, true, 0, false, 2, 3);
  got.insert(got.end(), part.begin(), part.end());
  EXPECT_EQ(want, got);
  EXPECT_EQ(a->counters().absence_conflicts, 1u);  // uniq of x; the other features a updates itself
  EXPECT_GE(a->counters().keys_checked_absent, 1u);
  EXPECT_EQ(a->counters().round_trips - round_trips, 2u);  // the check, then the script
}

// A key this store evicted goes to the script at once (its cache remembers
// the eviction), not through a create that would find it there: still one
// round trip per batch.
TEST_F(FeatureStoreContract, EvictedKeysSkipTheCreateAndStayInOneRoundTrip) {
  auto rules = pack();
  auto lines = stream(41, 3000, 30);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 100, true);
  // Room for most of the ~200 keys: copies keep falling out, and come back.
  auto small = redis_with("evicted", RedisStoreOptions{.cache_keys = 192});
  EXPECT_EQ(want, run(*small, *rules, lines, 100, true));
  EXPECT_GT(small->counters().cache_evictions, 0u);
  EXPECT_GT(small->counters().keys_script_computed, 0u);
  EXPECT_GT(small->counters().keys_created, 0u);
  EXPECT_EQ(small->counters().create_conflicts, 0u);
  EXPECT_EQ(small->counters().round_trips, lines.size() / 100);
}

// Keys of the next batch that were evicted are fetched with a GET riding on
// this batch's round trip, so the engine computes them rather than the
// script; a copy fetched ahead is still a guess (another writer between the
// fetch and the apply makes the script compute), so values stay exact.
TEST_F(FeatureStoreContract, EvictedKeysOfTheNextBatchAreFetchedAheadInTheSameRoundTrip) {
  auto rules = pack();
  auto lines = stream(41, 3000, 30);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 10, true);
  auto plain = redis_with("ahead-off", RedisStoreOptions{.cache_keys = 96});
  EXPECT_EQ(want, run(*plain, *rules, lines, 10, true));
  auto ahead = redis_with("ahead-on", RedisStoreOptions{.cache_keys = 96});
  EXPECT_EQ(want, run(*ahead, *rules, lines, 10, true, 0, false, 0, SIZE_MAX, 1));
  EXPECT_EQ(plain->counters().keys_prefetched, 0u);
  EXPECT_GT(ahead->counters().keys_prefetched, 0u);
  // The GETs took no round trip of their own (a batch takes a second one
  // only when a create finds its key there: a key evicted longer ago than
  // the cache remembers).
  EXPECT_LE(ahead->counters().round_trips, lines.size() / 10 + ahead->counters().create_conflicts);
  EXPECT_GT(plain->counters().keys_script_computed, 0u);
  EXPECT_LT(ahead->counters().keys_script_computed, plain->counters().keys_script_computed / 2)
      << "prefetched " << ahead->counters().keys_prefetched;

  // Two engines taking turns on the same keys, each announced its next
  // batch (two batches on): the other one writes in between, so what was
  // fetched is stale by then and the stamp check sends it to the script.
  auto a = redis_with("ahead-turns", RedisStoreOptions{.cache_keys = 96});
  auto b = redis_with("ahead-turns", RedisStoreOptions{.cache_keys = 96});
  std::vector<std::string> got;
  for (std::size_t first = 0; first < lines.size(); first += 10) {
    auto part = run(first / 10 % 2 ? *b : *a, *rules, lines, 10, true, 0, false, first, first + 10, 2);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(want, got);
  EXPECT_GT(a->counters().keys_prefetched + b->counters().keys_prefetched, 0u);
}

// An engine that forgot every key (a restart; or a working set far larger
// than its cache): its creates would all find the keys there. After one
// batch of conflicts it stops creating (one round trip per batch again), and
// a later probe with keys that really are new turns creating back on.
TEST_F(FeatureStoreContract, CreatesStopWhileTheyConflictAndResumeAfterAProbe) {
  auto rules = pack();
  auto lines = stream(51, 100, 40);  // 25 minutes: a replay stays within every window
  MemoryFeatureStore memory;
  run(memory, *rules, lines, 10, true);
  auto want = run(memory, *rules, lines, 10, true);  // the same events again: counted once
  auto first = redis("forgetful");
  run(*first, *rules, lines, 10, true);
  auto again = redis("forgetful");  // empty cache, every key in Redis
  EXPECT_EQ(want, run(*again, *rules, lines, 10, true));
  EXPECT_GT(again->counters().create_conflicts, 0u);
  EXPECT_EQ(again->counters().keys_created, 0u);
  EXPECT_FALSE(again->creating());
  EXPECT_EQ(again->counters().round_trips, 10u + 1u);  // only the first batch needed a second one
  // New entities: the probe every 64th apply creates without conflicts, and
  // creating resumes.
  auto fresh = stream(52, 700, 1'000'000);
  for (auto& l : fresh) {
    if (auto at = l.find("\"k\":\"u"); at != std::string::npos) l[at + 5] = 'n';
  }
  MemoryFeatureStore memory2;
  EXPECT_EQ(run(memory2, *rules, fresh, 10, true, 1), run(*again, *rules, fresh, 10, true, 1));
  EXPECT_TRUE(again->creating());
  EXPECT_GT(again->counters().keys_created, 0u);
}

// The engine's copies are only guesses: whenever another writer got there
// first (two engines on the same keys), a copy fell out of a tiny cache, or
// there is no copy at all (a restart, or the cache off), the script computes
// - and every value is still the memory store's.
TEST_F(FeatureStoreContract, StaleMissingOrNoCopiesStillGiveExactValues) {
  auto rules = pack();
  auto lines = stream(31, 3000, 40);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 100, true);

  // Two stores (two engines) take turns, batch by batch, on the same keys.
  auto a = redis("turns");
  auto b = redis("turns");
  std::vector<std::string> got;
  for (std::size_t first = 0; first < lines.size(); first += 100) {
    auto part = run(first / 100 % 2 ? *b : *a, *rules, lines, 100, true, 0, false, first, first + 100);
    got.insert(got.end(), part.begin(), part.end());
  }
  EXPECT_EQ(want, got);
  EXPECT_GT(a->counters().keys_script_computed + b->counters().keys_script_computed, 0u);
  EXPECT_GT(a->counters().keys_engine_computed + b->counters().keys_engine_computed, 0u);

  // A cache of 8 copies: most keys fall out between their batches.
  auto tiny = redis_with("tiny", RedisStoreOptions{.cache_keys = 8});
  EXPECT_EQ(want, run(*tiny, *rules, lines, 100, true));
  EXPECT_GT(tiny->counters().keys_script_computed, 0u);
  EXPECT_EQ(tiny->counters().cache_entries, 8u);
  EXPECT_GT(tiny->counters().cache_evictions, 0u);

  // Room for thousands of keys but 128 KiB of memory: copies are released
  // as states grow and the cache holds what the budget allows.
  constexpr std::size_t kLean = 128 << 10;
  auto lean = redis_with("lean", RedisStoreOptions{.cache_keys = 4096, .cache_bytes = kLean});
  EXPECT_EQ(want, run(*lean, *rules, lines, 100, true));
  EXPECT_GT(lean->counters().cache_evictions, 0u);
  EXPECT_GT(lean->counters().keys_script_computed, 0u);
  EXPECT_GT(lean->counters().cache_bytes, kLean / 2);
  EXPECT_LE(lean->counters().cache_bytes, 2 * kLean);  // a batch's own keys are never released mid-batch
  EXPECT_LT(lean->counters().cache_entries, 4096u);

  // No cache: the script computes every key.
  auto none = redis_with("none", RedisStoreOptions{.cache_keys = 0});
  EXPECT_EQ(want, run(*none, *rules, lines, 100, true));
  EXPECT_EQ(none->counters().keys_engine_computed, 0u);
  EXPECT_EQ(none->counters().cache_entries, 0u);

  // A restart: a new store (empty cache) continues on the state in Redis.
  auto before = redis("restart");
  auto first_half = run(*before, *rules, lines, 100, true, 0, false, 0, 1500);
  before.reset();
  auto after = redis("restart");
  auto second_half = run(*after, *rules, lines, 100, true, 0, false, 1500);
  first_half.insert(first_half.end(), second_half.begin(), second_half.end());
  EXPECT_EQ(want, first_half);
  EXPECT_GT(after->counters().keys_script_computed, 0u);
  // Its creates of keys the first store made found them there: the script
  // computed those in a second round trip of the same batch.
  EXPECT_GT(after->counters().create_conflicts, 0u);
  EXPECT_GT(after->counters().round_trips, 15u);
}

TEST_F(FeatureStoreContract, HotKeyBatchesAndTheNaiveModeGiveTheSameValues) {
  auto rules = pack();
  auto lines = stream(21, 3000, 2);  // two entities: hundreds of ops per key per batch
  MemoryFeatureStore memory;
  auto batched = redis("hot-1");
  auto naive = redis("hot-2", RedisCallMode::kPerOperation);
  auto want = run(memory, *rules, lines, 500, true);
  EXPECT_EQ(want, run(*batched, *rules, lines, 500, true));
  EXPECT_EQ(batched->counters().round_trips, 6u);
  EXPECT_EQ(want, run(*naive, *rules, lines, 500, true));
  EXPECT_GT(naive->counters().round_trips, 3000u);  // at least one per event
}

TEST_F(FeatureStoreContract, BatchSizeDoesNotChangeValues) {
  auto rules = pack();
  auto lines = stream(5, 1500);
  auto a = redis("batch-1");
  auto b = redis("batch-2");
  EXPECT_EQ(run(*a, *rules, lines, 1, false), run(*b, *rules, lines, 500, false));
}

TEST_F(FeatureStoreContract, RedeliveredEventsCountOnce) {
  auto rules = pack();
  auto lines = stream(3, 600);
  for (bool use_redis : {false, true}) {
    MemoryFeatureStore memory;
    auto r = redis(use_redis ? "idem-r" : "unused");
    FeatureStore& store = use_redis ? static_cast<FeatureStore&>(*r) : memory;
    auto first = run(store, *rules, lines, 50, true);
    // Replay the same partition/offsets: no update may apply twice, so a
    // third pass reads exactly what the second did.
    auto second = run(store, *rules, lines, 50, true);
    auto third = run(store, *rules, lines, 64, true);
    EXPECT_EQ(second, third) << store.name();
    MemoryFeatureStore fresh;
    auto once = run(fresh, *rules, lines, 50, false);
    EXPECT_EQ(first, once) << store.name();
  }
}

// A device farm: thousands of distinct IDs on one key. The key tracks at most
// max_values live values; the feature saturates there, each value not tracked
// is counted, and a value seen before still counts once. Memory, the engine's
// copy and the script (no copy) agree on every read and every overflow.
TEST_F(FeatureStoreContract, DistinctValuesAreCappedPerKeyAndTheOverflowCounted) {
  auto capped = compile_pack({{"p.yaml", R"(features:
  - name: ids
    agg: distinct
    of: v
    by: k
    window: 1h
    resolution: 10m
    max_values: 50
)"}});
  ASSERT_TRUE(capped.ok()) << capped.diagnostics.to_text();
  std::vector<std::string> lines;
  auto event = [&](std::int64_t ts, const std::string& v) {
    lines.push_back("{\"event_id\":\"e" + std::to_string(lines.size()) +
                    "\",\"event_type\":\"app\",\"ts\":" + std::to_string(ts) + ",\"k\":\"farm\",\"v\":\"" + v + "\"}");
  };
  const std::int64_t t0 = 1'772'000'000'000;
  for (int i = 0; i < 2000; ++i) event(t0 + i * 1000, "id" + std::to_string(i));     // 2,000 IDs in 33 minutes
  for (int i = 0; i < 50; ++i) event(t0 + 2'000'000 + i, "id" + std::to_string(i));  // tracked ones again
  // Two windows later the old values are no longer live: new ones are tracked.
  for (int i = 0; i < 30; ++i) event(t0 + 3 * 3'600'000 + i * 1000, "new" + std::to_string(i));

  MemoryFeatureStore memory;
  auto want = run(memory, *capped.rules, lines, 200, true);
  EXPECT_EQ(want[0], "1 ");
  EXPECT_EQ(want[49], "50 ");
  EXPECT_EQ(want[1999], "50 ");  // saturated, not 2000
  EXPECT_EQ(want[2049], "50 ");
  EXPECT_EQ(want[2050], "1 ");
  EXPECT_EQ(want.back(), "30 ");
  EXPECT_EQ(memory.counters().distinct_overflows, 1950u);

  auto engine = redis("farm-engine");
  EXPECT_EQ(want, run(*engine, *capped.rules, lines, 200, true));
  EXPECT_EQ(engine->counters().distinct_overflows, 1950u);
  auto script = redis_with("farm-script", RedisStoreOptions{.cache_keys = 0});
  EXPECT_EQ(want, run(*script, *capped.rules, lines, 200, true));
  EXPECT_EQ(script->counters().keys_engine_computed, 0u);
  EXPECT_EQ(script->counters().distinct_overflows, 1950u);

  // The stored value stays bounded by the cap, not by the 2,000 values seen.
  redisContext* c = redisConnect("127.0.0.1", server_->port());
  auto* keys = static_cast<redisReply*>(redisCommand(c, "KEYS *"));
  std::size_t largest = 0;
  for (std::size_t i = 0; i < keys->elements; ++i) {
    auto* len = static_cast<redisReply*>(redisCommand(c, "STRLEN %s", keys->element[i]->str));
    largest = std::max<std::size_t>(largest, static_cast<std::size_t>(len->integer));
    freeReplyObject(len);
  }
  freeReplyObject(keys);
  redisFree(c);
  EXPECT_GT(largest, 0u);
  EXPECT_LT(largest, 50u * 40);  // ~20 bytes per tracked value
}

TEST_F(FeatureStoreContract, NoRawKeysInRedisAndTtlIsSet) {
  auto rules = pack();
  auto r = redis("secret");
  run(*r, *rules,
      {R"({"event_id":"1","event_type":"app","ts":1772000000000,"k":"ID-110101199001011234","v":"13800001111"})"}, 1,
      false);
  redisContext* c = redisConnect("127.0.0.1", server_->port());
  ASSERT_TRUE(c && !c->err);
  auto* keys = static_cast<redisReply*>(redisCommand(c, "KEYS *"));
  ASSERT_GT(keys->elements, 0u);
  for (std::size_t i = 0; i < keys->elements; ++i) {
    std::string k(keys->element[i]->str, keys->element[i]->len);
    if (k.rfind("fs:epoch", 0) == 0) continue;  // the data-loss marker (no TTL, no entity)
    EXPECT_EQ(k.find("110101"), std::string::npos) << k;
    EXPECT_EQ(k.rfind("fs:{", 0), 0u) << k;
    auto* ttl = static_cast<redisReply*>(redisCommand(c, "PTTL %b", k.data(), k.size()));
    // The longest window + max_lateness (1h) + resolution, plus at most 1/8 slack.
    EXPECT_GT(ttl->integer, 0);
    EXPECT_LE(ttl->integer, (3600000 + 3600000 + 600000) * 9 / 8);
    freeReplyObject(ttl);
    auto* state = static_cast<redisReply*>(redisCommand(c, "GET %b", k.data(), k.size()));
    ASSERT_EQ(state->type, REDIS_REPLY_STRING);
    std::string s(state->str, state->len);
    EXPECT_EQ(s.find("13800001111"), std::string::npos);
    EXPECT_EQ(s.find("110101"), std::string::npos);
    freeReplyObject(state);
  }
  freeReplyObject(keys);
  redisFree(c);
}

// A key lives window + resolution after its last write, however that write
// went: a write within the TTL's slack (1/8) of the last one that set it
// keeps it (no expiry bookkeeping in Redis), a later one sets it again, and
// so does the script when it computes the key.
TEST_F(FeatureStoreContract, TtlCoversEveryWriteAndIsRefreshedAfterTheSlack) {
  auto compiled = compile_pack({{"ttl.yaml", R"(features:
  - name: cnt
    agg: count
    by: k
    window: 38s
    resolution: 1s
    max_lateness: 1s
)"}});  // TTL: window + max_lateness + resolution = 40 s
  ASSERT_TRUE(compiled.ok()) << compiled.diagnostics.to_text();
  const RuleSet& rules = *compiled.rules;
  const std::int64_t ttl = 40000, slack = ttl / 8;  // keys live up to 45 s
  auto store = redis_with("ttl", RedisStoreOptions{.timeout_ms = 200});
  auto other = redis_with("ttl", RedisStoreOptions{.timeout_ms = 200});
  redisContext* c = redisConnect("127.0.0.1", server_->port());
  ASSERT_TRUE(c && !c->err);
  freeReplyObject(redisCommand(c, "FLUSHALL"));  // one key in Redis: this test's
  auto pttl = [&]() -> long long {
    auto* keys = static_cast<redisReply*>(redisCommand(c, "KEYS fs:{*"));  // not the fs:epoch marker
    EXPECT_EQ(keys->elements, 1u);
    long long out = -3;
    if (keys->elements == 1) {
      auto* r = static_cast<redisReply*>(redisCommand(c, "PTTL %s", keys->element[0]->str));
      out = r->integer;
      freeReplyObject(r);
    }
    freeReplyObject(keys);
    return out;
  };
  std::int64_t ts = 1772000000000;
  auto event = [&] {
    ts += 10;
    return R"({"event_id":"e","event_type":"app","ts":)" + std::to_string(ts) + R"(,"k":"K"})";
  };
  auto write = [&](RedisFeatureStore& s) { run(s, rules, {event()}, 1, false); };
  write(*store);
  long long first = pttl();
  EXPECT_GT(first, ttl + slack - 2000);
  EXPECT_LE(first, ttl + slack);
  // Again at once: the engine's write keeps the TTL set just now.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  write(*store);
  long long kept = pttl();
  EXPECT_LE(kept, first - 250);
  EXPECT_GE(kept, ttl);  // still covers this write (and any within the slack)
  EXPECT_EQ(store->counters().keys_script_computed, 0u);
  // Past the slack (minus the timeout): the write sets the TTL again.
  std::this_thread::sleep_for(std::chrono::milliseconds(slack));
  write(*store);
  EXPECT_GT(pttl(), ttl + slack - 2000);
  // Another writer: its copy is stale, the script computes and sets the TTL.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  write(*other);
  EXPECT_EQ(other->counters().keys_script_computed, 1u);
  EXPECT_GT(pttl(), ttl + slack - 2000);
  // And the first store, now stale too, goes through the script as well.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  write(*store);
  EXPECT_EQ(store->counters().keys_script_computed, 1u);
  EXPECT_GT(pttl(), ttl + slack - 2000);
  redisFree(c);
}

TEST_F(FeatureStoreContract, AuthWithAclUserAndScriptReloadAfterFlush) {
  RedisServer secured("fraud", "s3cret");
  auto rules = pack();
  auto ep = parse_redis_url("redis://fraud:s3cret@127.0.0.1:" + std::to_string(secured.port()));
  ASSERT_TRUE(ep);
  RedisFeatureStore good(*ep, "x");
  EXPECT_TRUE(good.connect().ok);
  RedisEndpoint wrong = *ep;
  wrong.password = "nope";
  RedisFeatureStore bad(wrong, "x");
  StoreStatus st = bad.connect();
  EXPECT_FALSE(st.ok);
  EXPECT_NE(st.error.find("AUTH"), std::string::npos) << st.error;
  // SCRIPT FLUSH (as after a Redis restart): the store reloads and goes on.
  auto lines = stream(9, 50);
  run(good, *rules, lines, 10, false);
  redisContext* c = redisConnect("127.0.0.1", secured.port());
  freeReplyObject(redisCommand(c, "AUTH fraud s3cret"));
  freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
  redisFree(c);
  run(good, *rules, lines, 10, false);
}

// Redis restarted empty (here: FLUSHALL) mid-stream: every engine sharing it
// notices on its next apply (the epoch key is gone or changed), reports
// state_reset once, and counts it; applies before and after report nothing.
TEST_F(FeatureStoreContract, LostRedisDataIsDetectedByEveryEngine) {
  auto rules = pack();
  auto lines = stream(21, 40);
  auto a = redis("reset");
  auto b = redis("reset");
  auto apply_one = [&](RedisFeatureStore& store, std::size_t line) {
    BatchRunner runner(store, BatchRunner::Options{.read_all_features = true, .idempotent = true});
    SourceRecord record{.value = lines[line], .offset = static_cast<std::int64_t>(line)};
    const PipelineBatch& b = runner.run(rules, std::span(&record, 1));
    EXPECT_TRUE(b.store_status.ok) << b.store_status.error;
    return b.store_status.state_reset;
  };
  EXPECT_FALSE(apply_one(*a, 0));
  EXPECT_FALSE(apply_one(*b, 1));
  EXPECT_FALSE(apply_one(*a, 2));
  redisContext* c = redisConnect("127.0.0.1", server_->port());
  ASSERT_TRUE(c && !c->err);
  freeReplyObject(redisCommand(c, "FLUSHALL"));
  redisFree(c);
  EXPECT_TRUE(apply_one(*a, 3)) << "the engine that comes first notices";
  EXPECT_TRUE(apply_one(*b, 4)) << "and so does the other one, though the first set a new epoch";
  EXPECT_FALSE(apply_one(*a, 5));
  EXPECT_FALSE(apply_one(*b, 6));
  EXPECT_EQ(a->counters().state_resets, 1u);
  EXPECT_EQ(b->counters().state_resets, 1u);
}

TEST_F(FeatureStoreContract, UnreachableRedisIsAnErrorValueThenRecovers) {
  auto rules = pack();
  RedisServer temp;
  RedisEndpoint ep;
  ep.port = temp.port();
  RedisFeatureStore store(ep, "x", 300);
  EXPECT_TRUE(store.connect().ok);
  temp.stop();
  BatchRunner runner(store);
  std::string line = R"({"event_id":"1","event_type":"app","ts":0,"k":"a"})";
  SourceRecord record{.value = line};
  const PipelineBatch& b = runner.run(rules, std::span(&record, 1));
  const StoreStatus& st = b.store_status;
  EXPECT_TRUE(b.degraded) << "fail_open: the verdict goes out without features";
  EXPECT_FALSE(st.ok);
  EXPECT_FALSE(st.error.empty());
}

TEST(RedisUrl, Parses) {
  auto a = parse_redis_url("redis://u:p@h:7000");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "u");
  EXPECT_EQ(a->password, "p");
  EXPECT_EQ(a->host, "h");
  EXPECT_EQ(a->port, 7000);
  auto b = parse_redis_url("redis://localhost");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 6379);
  EXPECT_TRUE(b->password.empty());
  EXPECT_FALSE(parse_redis_url("http://x:1"));
  EXPECT_FALSE(parse_redis_url("redis://x:notaport"));
  EXPECT_FALSE(parse_redis_url("redis://"));
}

// ---- the same contract on a Redis Cluster -----------------------------------

namespace {

class FeatureStoreOnCluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = new RedisCluster(3, 1); }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  std::unique_ptr<RedisFeatureStore> store(const std::string& salt, int wait_replicas = 0,
                                           std::size_t cache_keys = RedisStoreOptions{}.cache_keys) {
    for (int port : cluster_->masters()) freeReplyObject(RedisCluster::command(port, {"FLUSHALL"}));
    auto seeds = parse_redis_seeds(cluster_->url());
    EXPECT_TRUE(seeds);
    auto s = std::make_unique<RedisFeatureStore>(
        *seeds, salt, RedisStoreOptions{.wait_replicas = wait_replicas, .cache_keys = cache_keys});
    EXPECT_TRUE(s->connect().ok);
    return s;
  }
  // A state key of this test's salt living on master `port`, and its slot.
  static std::pair<std::string, int> some_key_on(int port) {
    redisReply* keys = RedisCluster::command(port, {"KEYS", "fs:*"});
    EXPECT_TRUE(keys && keys->elements > 0);
    std::string key(keys->element[0]->str, keys->element[0]->len);
    freeReplyObject(keys);
    return {key, redis_key_slot(key)};
  }
  static RedisCluster* cluster_;
};
RedisCluster* FeatureStoreOnCluster::cluster_ = nullptr;

}  // namespace

TEST(RedisSlots, MatchTheClusterSpec) {
  // Reference values from the Redis Cluster specification / CLUSTER KEYSLOT.
  EXPECT_EQ(redis_key_slot("123456789"), 0x31C3 & 16383);
  EXPECT_EQ(redis_key_slot("fs:{a}"), 15495);
  EXPECT_EQ(redis_key_slot("fs:{b}"), 3300);
  EXPECT_EQ(redis_key_slot("{b}other"), 3300);
  EXPECT_EQ(redis_key_slot("x{}y"), redis_key_slot("x{}y"));  // empty tag: whole key
}

TEST(RedisUrl, SeveralSeeds) {
  auto s = parse_redis_seeds("redis://u:p@10.0.0.1:7000,10.0.0.2:7001,redis-3");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[1].host, "10.0.0.2");
  EXPECT_EQ((*s)[1].port, 7001);
  EXPECT_EQ((*s)[2].port, 6379);
  EXPECT_EQ((*s)[2].password, "p");
  EXPECT_FALSE(parse_redis_seeds("redis://a:1,,b:2"));
  EXPECT_FALSE(parse_redis_seeds("redis://a:99999"));
}

TEST_F(FeatureStoreOnCluster, SameValuesAsMemoryWithOneCallPerNodePerBatch) {
  auto rules = pack();
  auto lines = stream(11, 4000);
  MemoryFeatureStore memory;
  auto c = store("cluster-1");
  EXPECT_TRUE(c->cluster());
  EXPECT_EQ(c->node_count(), 3u);
  auto want = run(memory, *rules, lines, 97, true);
  auto got = run(*c, *rules, lines, 97, true);
  EXPECT_EQ(want, got);
  std::size_t batches = (lines.size() + 96) / 97;
  EXPECT_LE(c->counters().round_trips, batches * 3);  // at most one per node per batch
  EXPECT_GT(c->counters().round_trips, batches);      // the keys really are spread
  EXPECT_EQ(c->counters().redirects, 0u);
}

// Keys fetched ahead are read from the node owning their slot, in the round
// trip that node gets anyway.
TEST_F(FeatureStoreOnCluster, KeysFetchedAheadComeFromTheNodeOwningThem) {
  auto rules = pack();
  auto lines = stream(41, 3000, 30);
  MemoryFeatureStore memory;
  auto c = store("cluster-ahead", 0, 96);
  EXPECT_EQ(run(memory, *rules, lines, 10, true), run(*c, *rules, lines, 10, true, 0, false, 0, SIZE_MAX, 1));
  EXPECT_GT(c->counters().keys_prefetched, 0u);
  EXPECT_GT(c->counters().keys_prefetched, c->counters().keys_script_computed);
  EXPECT_EQ(c->counters().redirects, 0u);
  EXPECT_LE(c->counters().round_trips, 3 * (lines.size() / 10 + c->counters().create_conflicts));
}

TEST_F(FeatureStoreOnCluster, SlotMigrationMidStreamFollowsAskAndMoved) {
  auto rules = pack();
  auto lines = stream(12, 3000);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 50, true);
  auto c = store("cluster-2");
  std::vector<std::string> got = run(*c, *rules, lines, 50, true, 0, false, 0, 1000);
  auto masters = cluster_->masters();
  ASSERT_EQ(masters.size(), 3u);
  auto [key, slot] = some_key_on(masters[0]);
  // Half the slot's keys moved: batches now meet ASK/TRYAGAIN; then the slot
  // is reassigned: batches meet MOVED.
  cluster_->migrate_slot(slot, masters[1], [&] {
    auto part = run(*c, *rules, lines, 50, true, 0, false, 1000, 2000);
    got.insert(got.end(), part.begin(), part.end());
  });
  auto rest = run(*c, *rules, lines, 50, true, 0, false, 2000);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(want, got);
  EXPECT_GT(c->counters().redirects, 0u);
  EXPECT_GT(c->counters().ask_redirects, 0u) << "keys of the half-moved slot were followed with ASKING";
  EXPECT_EQ(cluster_->master_of_slot(slot), masters[1]);
}

TEST_F(FeatureStoreOnCluster, MasterFailoverLosesNoUpdate) {
  auto rules = pack();
  auto lines = stream(13, 3000);
  MemoryFeatureStore memory;
  auto want = run(memory, *rules, lines, 50, true);
  auto c = store("cluster-3", 1);  // WAIT for one replica per batch
  std::vector<std::string> got = run(*c, *rules, lines, 50, true, 0, true, 0, 1000);
  auto masters = cluster_->masters();
  ASSERT_FALSE(masters.empty());
  int victim = masters.back();
  cluster_->kill(victim);
  // The engine keeps retrying (policy pause) while the replica takes over,
  // and until the killed node is back as its replica (WAIT needs one).
  std::thread comeback([&] {
    cluster_->wait_healthy(std::chrono::seconds(30));
    cluster_->restart(victim);
  });
  auto rest = run(*c, *rules, lines, 50, true, 0, true, 1000);
  comeback.join();
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(want.size(), got.size());
  int diffs = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] != got[i] && ++diffs < 5)
      ADD_FAILURE() << i << ": " << lines[i] << "\n memory: " << want[i] << "\n redis:  " << got[i];
  }
  EXPECT_EQ(diffs, 0);
  EXPECT_GT(c->counters().topology_refreshes, 1u);
}

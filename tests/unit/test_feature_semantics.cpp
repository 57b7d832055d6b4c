// Exact velocity semantics (RULES.md): buckets, window edges, out-of-order
// events, processed-no-later-than, null keys, where, composite keys, expiry.
#include <gtest/gtest.h>

#include "pack_fixture.h"

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
    by: k
    window: 1h
    resolution: 10m
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
  - name: apps
    agg: count
    by: k
    window: 1h
    resolution: 10m
    where: event_type == "app"
  - name: pair
    agg: count
    by: [k, j]
    window: 1h
    resolution: 10m
)";

constexpr std::int64_t kMin = 60'000;

std::string ev(int id, std::int64_t ts, const std::string& extra = R"("k":"a")") {
  return R"({"event_id":")" + std::to_string(id) + R"(","event_type":"app","ts":)" + std::to_string(ts) +
         (extra.empty() ? "" : "," + extra) + "}";
}

double num(const Value& v) {
  EXPECT_TRUE(v.is_number());
  return v.number;
}

}  // namespace

TEST(FeatureSemantics, EventCountsItselfAndWindowEdgesAreBuckets) {
  Runner r(compile_ok(kPack));
  // Buckets of 10 minutes; window = 6 buckets [b-5, b].
  EXPECT_EQ(num(r.feature(r.run(ev(1, 0)), "cnt")), 1);                   // bucket 0
  EXPECT_EQ(num(r.feature(r.run(ev(2, 59 * kMin + 59'999)), "cnt")), 2);  // bucket 5: 0 still in
  EXPECT_EQ(num(r.feature(r.run(ev(3, 60 * kMin)), "cnt")), 2);           // bucket 6: bucket 0 left
  EXPECT_EQ(num(r.feature(r.run(ev(4, 69 * kMin)), "cnt")), 3);           // bucket 6 again
  EXPECT_EQ(num(r.feature(r.run(ev(5, 70 * kMin)), "cnt")), 4);           // bucket 7 sees [2, 7]: 2,3,4,5
}

TEST(FeatureSemantics, OutOfOrderEventsSeeOnlyTheirOwnWindow) {
  Runner r(compile_ok(kPack));
  r.run(ev(1, 100 * kMin));  // bucket 10
  r.run(ev(2, 105 * kMin));  // bucket 10
  // A late event at bucket 5 sees [0, 5]: only itself, not the later ones.
  EXPECT_EQ(num(r.feature(r.run(ev(3, 50 * kMin)), "cnt")), 1);
  // Bucket 9 sees [4, 9]: the late event (bucket 5) and itself.
  EXPECT_EQ(num(r.feature(r.run(ev(4, 95 * kMin)), "cnt")), 2);
  // Bucket 10 sees [5, 10]: everything so far.
  EXPECT_EQ(num(r.feature(r.run(ev(5, 101 * kMin)), "cnt")), 5);
}

TEST(FeatureSemantics, ProcessedNoLaterThanMeansArrivalOrder) {
  Runner r(compile_ok(kPack));
  // Same bucket, the event with the earlier ts arrives second: it sees both.
  EXPECT_EQ(num(r.feature(r.run(ev(1, 5 * kMin)), "cnt")), 1);
  EXPECT_EQ(num(r.feature(r.run(ev(2, 1 * kMin)), "cnt")), 2);
}

TEST(FeatureSemantics, Aggregations) {
  Runner r(compile_ok(kPack));
  Outcome o = r.run(ev(1, 0, R"("k":"a","amount":10,"v":"x")"));
  EXPECT_EQ(num(r.feature(o, "total")), 10);
  o = r.run(ev(2, kMin, R"("k":"a","amount":-4.5,"v":"y")"));
  EXPECT_EQ(num(r.feature(o, "total")), 5.5);
  EXPECT_EQ(num(r.feature(o, "lo")), -4.5);
  EXPECT_EQ(num(r.feature(o, "hi")), 10);
  EXPECT_EQ(num(r.feature(o, "mean")), 2.75);
  EXPECT_EQ(num(r.feature(o, "uniq")), 2);
  // Non-numeric `of` counts for count, adds nothing to sum/min/max/avg.
  o = r.run(ev(3, kMin, R"("k":"a","amount":"100","v":"x")"));
  EXPECT_EQ(num(r.feature(o, "cnt")), 3);
  EXPECT_EQ(num(r.feature(o, "total")), 5.5);
  EXPECT_EQ(num(r.feature(o, "mean")), 2.75);
  EXPECT_EQ(num(r.feature(o, "uniq")), 2);
}

TEST(FeatureSemantics, EmptyAggregates) {
  Runner r(compile_ok(kPack));
  Outcome o = r.run(ev(1, 0, R"("k":"a")"));
  EXPECT_EQ(num(r.feature(o, "cnt")), 1);
  EXPECT_EQ(num(r.feature(o, "total")), 0);
  EXPECT_TRUE(r.feature(o, "lo").is_null());
  EXPECT_TRUE(r.feature(o, "hi").is_null());
  EXPECT_TRUE(r.feature(o, "mean").is_null());
  EXPECT_EQ(num(r.feature(o, "uniq")), 0);
}

TEST(FeatureSemantics, DistinctComparesJsonText) {
  Runner r(compile_ok(kPack));
  r.run(ev(1, 0, R"("k":"a","v":"1")"));
  r.run(ev(2, 0, R"("k":"a","v":1)"));
  r.run(ev(3, 0, R"("k":"a","v":1.0)"));
  r.run(ev(4, 0, R"("k":"a","v":null)"));
  r.run(ev(5, 0, R"("k":"a","v":true)"));
  r.run(ev(6, 0, R"("k":"a","v":{"x":[1, 2]})"));
  Outcome o = r.run(ev(7, 0, R"("k":"a","v":{"x":[1,2]})"));
  EXPECT_EQ(num(r.feature(o, "uniq")), 5);  // "1", 1, 1.0, true, {"x":[1,2]}
}

TEST(FeatureSemantics, NullKeyGivesNullAndUpdatesNothing) {
  Runner r(compile_ok(kPack));
  Outcome o = r.run(ev(1, 0, R"("amount":5)"));
  EXPECT_TRUE(r.feature(o, "cnt").is_null());
  EXPECT_TRUE(r.feature(o, "total").is_null());
  o = r.run(ev(2, 0, R"("k":null)"));
  EXPECT_TRUE(r.feature(o, "cnt").is_null());
  o = r.run(ev(3, 0, R"("k":"a","j":"b")"));
  EXPECT_EQ(num(r.feature(o, "cnt")), 1);
  EXPECT_EQ(num(r.feature(o, "pair")), 1);
  o = r.run(ev(4, 0, R"("k":"a")"));
  EXPECT_TRUE(r.feature(o, "pair").is_null());  // one `by` part missing
}

TEST(FeatureSemantics, KeysCompareByValue) {
  Runner r(compile_ok(kPack));
  r.run(ev(1, 0, R"("k":1)"));
  EXPECT_EQ(num(r.feature(r.run(ev(2, 0, R"("k":1.0)")), "cnt")), 2);
  EXPECT_EQ(num(r.feature(r.run(ev(3, 0, R"("k":"1")")), "cnt")), 1);
  // Composite keys cannot collide by concatenation.
  r.run(ev(4, 0, R"("k":"ab","j":"c")"));
  EXPECT_EQ(num(r.feature(r.run(ev(5, 0, R"("k":"a","j":"bc")")), "pair")), 1);
}

TEST(FeatureSemantics, WhereFiltersUpdatesButNotReads) {
  Runner r(compile_ok(kPack));
  r.run(ev(1, 0));
  Outcome o = r.run(R"({"event_id":"2","event_type":"pay","ts":0,"k":"a"})");
  EXPECT_EQ(num(r.feature(o, "apps")), 1);  // read for a pay event, not updated by it
  EXPECT_EQ(num(r.feature(o, "cnt")), 2);
}

TEST(FeatureSemantics, ExpiredStateIsDroppedAndLateEventsWithinAWindowStayExact) {
  Runner r(compile_ok(kPack));
  for (int i = 0; i < 6; ++i) r.run(ev(i, i * 10 * kMin));  // buckets 0..5
  r.run(ev(10, 115 * kMin));                                // bucket 11
  // A late event at bucket 6 (one window behind) sees [1, 6]: 5 + itself.
  EXPECT_EQ(num(r.feature(r.run(ev(11, 60 * kMin)), "cnt")), 6);
  // Far in the future: everything expired, only itself.
  EXPECT_EQ(num(r.feature(r.run(ev(12, 100000 * kMin)), "cnt")), 1);
}

TEST(FeatureSemantics, IdleKeysAreSwept) {
  auto rules = compile_ok(kPack);
  MemoryFeatureStore store;
  BatchRunner runner(store);
  std::vector<std::string> lines(1000);
  // 70 batches of 1000 distinct keys, each batch one hour later.
  for (int b = 0; b < 70; ++b) {
    for (int i = 0; i < 1000; ++i) lines[i] = ev(i, b * 60 * kMin, R"("k":")" + std::to_string(b * 1000 + i) + "\"");
    auto records = BatchRunner::records_of(lines);
    const PipelineBatch& batch = runner.run(rules, records);
    ASSERT_EQ(batch.ptrs.size(), lines.size());
    ASSERT_TRUE(batch.store_status.ok);
  }
  // 8 features x 1000 keys per hour; only the last few hours stay live.
  EXPECT_LT(store.key_count(), 8u * 1000 * 10);
}

TEST(FeatureSemantics, IdempotentUpdatesPerPartitionOffset) {
  auto rules = compile_ok(kPack);
  MemoryFeatureStore store;
  BatchRunner runner(store, BatchRunner::Options{.read_all_features = true, .idempotent = true});
  std::string line = ev(1, 0);
  auto cnt = *rules->feature_index("cnt");
  for (int attempt = 0; attempt < 3; ++attempt) {  // redelivered twice
    SourceRecord record{.value = line, .partition = 2, .offset = 41};
    const PipelineBatch& b = runner.run(rules, std::span(&record, 1));
    ASSERT_TRUE(b.store_status.ok);
    EXPECT_EQ(b.processor.features_of(0)[cnt].number, 1);
  }
  SourceRecord other{.value = line, .partition = 3, .offset = 41};  // another partition, same offset
  const PipelineBatch& b = runner.run(rules, std::span(&other, 1));
  ASSERT_TRUE(b.store_status.ok);
  EXPECT_EQ(b.processor.features_of(0)[cnt].number, 2);
}

TEST(FeatureSemantics, ReloadKeepsStateOfUnchangedFeaturesOnly) {
  const char* v1 = R"(features:
  - name: same
    agg: count
    by: k
    window: 1h
  - name: changed
    agg: count
    by: k
    window: 1h
rules:
  - name: r
    when: same > 100
)";
  std::string v2 = v1;
  v2.replace(v2.rfind("window: 1h"), 10, "window: 2h");  // `changed` gets a new definition
  v2 += "    reason: edited\n";                          // and the pack a new version
  auto a = compile_ok(v1);
  auto b = compile_ok(v2);
  ASSERT_NE(a->version, b->version);
  EXPECT_EQ(a->features[0].fingerprint, b->features[0].fingerprint);
  EXPECT_NE(a->features[1].fingerprint, b->features[1].fingerprint);
  MemoryFeatureStore store;
  BatchRunner runner(store, BatchRunner::Options{.read_all_features = true});
  auto run = [&](const std::shared_ptr<const RuleSet>& pack, const std::string& line) {
    SourceRecord record{.value = line};
    const PipelineBatch& batch = runner.run(pack, std::span(&record, 1));
    EXPECT_TRUE(batch.store_status.ok);
    return std::vector<Value>(batch.processor.features_of(0).begin(), batch.processor.features_of(0).end());
  };
  for (int i = 0; i < 3; ++i) run(a, ev(i, i, R"("k":"a")"));
  auto f = run(b, ev(9, 10, R"("k":"a")"));
  EXPECT_EQ(f[0].number, 4);  // kept its 3 events
  EXPECT_EQ(f[1].number, 1);  // starts fresh
}

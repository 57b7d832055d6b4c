// RULES.md "Late events", pinned: a key keeps the buckets
// [newest - n - L + 1, newest] (L = ceil(max_lateness / resolution)); an event
// at most L buckets behind its key's newest reads and updates exactly; an
// older one is too late: it reads only the kept buckets of its window, updates
// only if its bucket is kept, and its verdict lists the feature in
// late_features. Reads do not move `newest`.
#include <gtest/gtest.h>

#include "pack_fixture.h"

using namespace fraud;
using fraud::testing::compile_errors;
using fraud::testing::compile_ok;
using fraud::testing::Runner;

namespace {

// n = 6 buckets of 10 minutes; settings: L = 3 (30m); cnt_strict: L = 1.
const char* kPack = R"(
settings:
  max_lateness: 30m
features:
  - name: cnt
    agg: count
    by: k
    window: 1h
    resolution: 10m
    where: event_type == "app"
  - name: cnt_strict
    agg: count
    by: k
    window: 1h
    resolution: 10m
    max_lateness: 10m
    where: event_type == "app"
  - name: ids
    agg: distinct
    of: v
    by: k
    window: 1h
    resolution: 10m
    where: event_type == "app"
)";

const std::int64_t kT0 = 1772323200000;  // bucket B = kT0 / 600,000 (a whole bucket)
constexpr std::int64_t kBucket = 600'000;

std::string event(const std::string& type, std::int64_t bucket, const std::string& v = "x") {
  static int n = 0;
  return R"({"event_id":"e)" + std::to_string(++n) + R"(","event_type":")" + type + R"(","ts":)" +
         std::to_string(kT0 + bucket * kBucket + 1000) + R"(,"k":"a","v":")" + v + R"("})";
}

std::vector<std::string> late_names(const Runner& r, const Verdict& v) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.late_count; ++i) out.push_back(r.rules().features[v.late_features[i]].name);
  return out;
}

}  // namespace

TEST(LateEvents, ExactWithinMaxLatenessFlaggedBeyondIt) {
  Runner r(compile_ok(kPack));
  r.run(event("app", 3, "v3"));
  r.run(event("app", 5, "v5"));
  auto at12 = r.run(event("app", 12, "v12"));  // newest 12: keeps [4, 12] (cnt), [6, 12] (cnt_strict)
  EXPECT_EQ(r.feature(at12, "cnt").number, 1);
  EXPECT_EQ(at12.verdict.late_count, 0u);

  // 3 buckets behind: exact for cnt (window [4, 9]: 5 and itself), too late
  // for cnt_strict (L = 1), which reads only its kept buckets: itself.
  auto at9 = r.run(event("app", 9, "v9"));
  EXPECT_EQ(r.feature(at9, "cnt").number, 2);
  EXPECT_EQ(r.feature(at9, "ids").number, 2);
  EXPECT_EQ(r.feature(at9, "cnt_strict").number, 1);
  EXPECT_EQ(late_names(r, at9.verdict), std::vector<std::string>{"cnt_strict"});
  EXPECT_NE(at9.json.find(R"("late_features":["cnt_strict"])"), std::string::npos) << at9.json;

  // 4 behind: too late for all. Exact would count buckets 3, 5 and 8; bucket
  // 3 is dropped, so 2. Its bucket (8) is kept: its update is applied.
  auto at8 = r.run(event("app", 8, "v8"));
  EXPECT_EQ(r.feature(at8, "cnt").number, 2);
  EXPECT_EQ(r.feature(at8, "ids").number, 2);
  EXPECT_EQ(late_names(r, at8.verdict), (std::vector<std::string>{"cnt", "cnt_strict", "ids"}));

  // 10 behind: its bucket is not kept, nothing of its window is: 0, and its
  // update is dropped.
  auto at2 = r.run(event("app", 2, "v2"));
  EXPECT_EQ(r.feature(at2, "cnt").number, 0);
  EXPECT_EQ(r.feature(at2, "ids").number, 0);
  EXPECT_EQ(at2.verdict.late_count, 3u);

  // Back at the newest bucket: window [7, 12] holds 8, 9 and 12 (and the
  // dropped update at 2 is nowhere).
  auto again = r.run(event("app", 12, "v12"));
  EXPECT_EQ(r.feature(again, "cnt").number, 4);
  EXPECT_EQ(r.feature(again, "ids").number, 3);
  EXPECT_EQ(again.verdict.late_count, 0u);
  EXPECT_EQ(again.json.find("late_features"), std::string::npos);
}

TEST(LateEvents, ReadsDoNotMoveNewest) {
  Runner r(compile_ok(kPack));
  r.run(event("app", 10));
  // A payment (it fails `where`: read only) far ahead reads 0 ...
  auto pay = r.run(event("pay", 100));
  EXPECT_EQ(r.feature(pay, "cnt").number, 0);
  EXPECT_EQ(pay.verdict.late_count, 0u);
  // ... and the key's newest is still 10: an application at 9 is exact
  // (its window [4, 9] holds itself), and one at 10 counts all three.
  auto app = r.run(event("app", 9));
  EXPECT_EQ(r.feature(app, "cnt").number, 1);
  EXPECT_EQ(app.verdict.late_count, 0u);
  EXPECT_EQ(r.feature(r.run(event("app", 10)), "cnt").number, 3);
}

TEST(LateEvents, DefaultIsOneHourAndLimitsAreChecked) {
  auto rules = compile_ok(R"(
features:
  - name: c
    agg: count
    by: k
    window: 1h
    resolution: 10m
  - name: d
    agg: count
    by: k
    window: 7d
    resolution: 1h
)");
  EXPECT_EQ(rules->max_lateness_ms, 3'600'000);
  EXPECT_EQ(rules->features[0].late_buckets, 6);
  EXPECT_EQ(rules->features[0].kept_buckets(), 12);
  EXPECT_EQ(rules->features[1].late_buckets, 1);  // ceil(1h / 1h)
  EXPECT_EQ(compile_ok("settings:\n  max_lateness: 25m\nfeatures:\n  - {name: c, agg: count, by: k, window: 1h, "
                       "resolution: 10m}\n")
                ->features[0]
                .late_buckets,
            3);  // ceil(25m / 10m)

  auto bad = compile_errors("settings:\n  max_lateness: soon\n");
  EXPECT_NE(bad.to_text().find("pack.yaml:2:17: error[E401]"), std::string::npos) << bad.to_text();
  auto huge =
      compile_errors("features:\n  - {name: c, agg: count, by: k, window: 1h, resolution: 1s, max_lateness: 30d}\n");
  EXPECT_NE(huge.to_text().find("error[E409]"), std::string::npos) << huge.to_text();
  EXPECT_NE(huge.to_text().find("max_lateness is 2592000 buckets"), std::string::npos) << huge.to_text();
}

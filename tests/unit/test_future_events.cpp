// RULES.md "Late events", events from the future: an event whose ts is more
// than settings.max_future ahead of its record time is evaluated at record
// time + max_future, so it cannot move its keys' windows ahead and blind
// them to every later event.
#include <gtest/gtest.h>

#include "pack_fixture.h"

using namespace fraud;
using fraud::testing::compile_ok;
using fraud::testing::Runner;

namespace {

const char* kPack = R"(
settings:
  max_future: 1h
features:
  - name: apps_per_id_7d
    agg: count
    by: id_number
    window: 7d
    resolution: 1h
rules:
  - name: stacking
    when: apps_per_id_7d >= 3
    score: 50
  - name: heavy_stacking
    when: apps_per_id_7d >= 4
    score: 40
)";

const std::int64_t kNow = 1772323200000;  // 2026-03-01T00:00:00Z, the record time

std::string application(int i, std::int64_t ts) {
  return R"({"event_id":"a)" + std::to_string(i) + R"(","event_type":"loan_application","ts":)" + std::to_string(ts) +
         R"(,"id_number":"ID-1"})";
}

}  // namespace

TEST(FutureEvents, AnEventInMicrosecondsCannotBlindItsKeys) {
  Runner r(compile_ok(kPack));
  auto first = r.run(application(0, kNow * 1000), kNow);  // ts in microseconds: year 58,000
  EXPECT_EQ(first.verdict.ts_clamped_from, kNow * 1000);
  EXPECT_NE(first.json.find(R"("ts_clamped_from":1772323200000000)"), std::string::npos) << first.json;
  // Before the fix every later update was ignored and all five were allowed.
  // Now they count as usual (review at the 3rd, decline at the 4th: the
  // clamped one lies at now + 1h, after their windows' ends)...
  std::vector<Decision> seen;
  for (int i = 1; i <= 5; ++i)
    seen.push_back(r.run(application(i, kNow + i * 60'000), kNow + i * 60'000).verdict.decision);
  EXPECT_EQ(seen, (std::vector<Decision>{Decision::kAllow, Decision::kAllow, Decision::kReview, Decision::kDecline,
                                         Decision::kDecline}));
  // ...and an hour later all six are in the window.
  auto later = r.run(application(6, kNow + 7'200'000), kNow + 7'200'000);
  EXPECT_EQ(r.feature(later, "apps_per_id_7d").number, 7);
}

TEST(FutureEvents, WithinMaxFutureOrWithoutARecordTimeNothingIsClamped) {
  Runner r(compile_ok(kPack));
  auto near = r.run(application(0, kNow + 3'600'000), kNow);  // exactly max_future ahead: kept
  EXPECT_EQ(near.verdict.ts_clamped_from, INT64_MIN);
  EXPECT_EQ(near.json.find("ts_clamped_from"), std::string::npos);
  auto unknown = r.run(application(1, kNow * 1000));  // no record time (replay without --record-time)
  EXPECT_EQ(unknown.verdict.ts_clamped_from, INT64_MIN);
}

TEST(FutureEvents, MaxFutureIsASettingWithADuration) {
  PackLoadResult bad = compile_pack({{"pack.yaml", "settings:\n  max_future: soon\n"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.diagnostics.to_text().find("pack.yaml:2:15"), std::string::npos) << bad.diagnostics.to_text();
  auto rules = compile_ok("settings:\n  max_future: 10m\n");
  EXPECT_EQ(rules->max_future_ms, 600'000);
  EXPECT_EQ(compile_ok("rules: []\n")->max_future_ms, 3'600'000) << "default 1h";
}

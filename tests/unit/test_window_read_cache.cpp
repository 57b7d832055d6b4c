// WindowState's read cache (engine/window_state.h): a key read again and
// again near its newest bucket answers from the cached count/distinct, kept
// current by the updates inside the cached window and dropped when the
// newest bucket moves. Held here to a fresh scan on a random stream with
// late events, repeats, distinct overflows and reads at every bucket.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine/window_state.h"

using namespace fraud;

namespace {

FeatureDef feature(Aggregation agg) {
  FeatureDef f;
  f.agg = agg;
  f.window_ms = 60'000;  // 6 buckets
  f.resolution_ms = 10'000;
  f.late_buckets = 3;
  f.max_values = 5;
  return f;
}

// The read without the cache: what the state holds, scanned.
Value scanned(const WindowState& s, const FeatureDef& f, std::int64_t bucket) {
  s.read_back = WindowState::kNoRead;
  Value v = window_read(s, f, bucket);
  s.read_back = WindowState::kNoRead;
  return v;
}

}  // namespace

TEST(WindowReadCache, RepeatedReadsEqualAFreshScanWhateverTheOrder) {
  for (Aggregation agg : {Aggregation::kCount, Aggregation::kDistinct, Aggregation::kSum}) {
    const FeatureDef f = feature(agg);
    std::mt19937 rng(7);
    WindowState cached, plain;
    std::int64_t newest = 100;
    int hits_checked = 0;
    for (int i = 0; i < 20'000; ++i) {
      // Mostly at or near the newest bucket, sometimes ahead, sometimes late.
      const int roll = static_cast<int>(rng() % 100);
      std::int64_t b = newest - static_cast<std::int64_t>(rng() % 4);
      if (roll < 8) b = ++newest;
      if (roll >= 95) b = newest - 4 - static_cast<std::int64_t>(rng() % 12);  // beyond max_lateness too
      const Value of = Value::of_number(static_cast<double>(rng() % 50));
      const std::string id = "v" + std::to_string(rng() % 9);
      EXPECT_EQ(window_update(cached, f, b, of, id), window_update(plain, f, b, of, id));
      // Read where an event would: at its own bucket, then again.
      for (std::int64_t at : {b, newest, newest - static_cast<std::int64_t>(rng() % 10)}) {
        const Value want = scanned(plain, f, at);
        const Value got = window_read(cached, f, at);
        ASSERT_EQ(want.is_null(), got.is_null()) << "agg " << static_cast<int>(agg) << " event " << i;
        if (!want.is_null()) {
          ASSERT_DOUBLE_EQ(want.number, got.number)
              << "agg " << static_cast<int>(agg) << " event " << i << " at " << at;
        }
        ++hits_checked;
      }
    }
    EXPECT_EQ(hits_checked, 60'000);
  }
}

TEST(WindowReadCache, AClearedStateForgetsItsCachedRead) {
  const FeatureDef f = feature(Aggregation::kCount);
  WindowState s;
  for (int i = 0; i < 3; ++i) window_update(s, f, 10, Value::of_number(1), {});
  EXPECT_EQ(window_read(s, f, 10).number, 3.0);
  window_clear(s);
  window_update(s, f, 10, Value::of_number(1), {});
  EXPECT_EQ(window_read(s, f, 10).number, 1.0);
}

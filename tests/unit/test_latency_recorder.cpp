// LatencyRecorder: percentiles within 1% over its whole range (10 us to
// minutes), and windows by snapshot difference (the load bench's method).
#include <gtest/gtest.h>

#include "engine/latency_recorder.h"

using fraud::LatencyRecorder;

TEST(LatencyRecorder, QuantilesWithinOnePercentFromMicrosecondsToMinutes) {
  for (double v : {0.00002, 0.0013, 0.024, 1.7, 95.0, 400.0}) {
    LatencyRecorder r;
    for (int i = 0; i < 10; ++i) r.record(v);
    EXPECT_NEAR(r.quantile(0.99), v, v * 0.0101) << v;
  }
  LatencyRecorder r;
  for (int i = 1; i <= 1000; ++i) r.record(i / 1000.0);  // 1 ms .. 1 s
  EXPECT_NEAR(r.quantile(0.5), 0.5, 0.5 * 0.0101);
  EXPECT_NEAR(r.quantile(0.99), 0.99, 0.99 * 0.0101);
  EXPECT_EQ(r.count(), 1000u);
}

TEST(LatencyRecorder, WindowBySnapshotDifference) {
  LatencyRecorder r;
  for (int i = 0; i < 100; ++i) r.record(2.0);  // before the window
  LatencyRecorder::Snapshot before = r.snapshot();
  for (int i = 0; i < 100; ++i) r.record(0.010);
  EXPECT_NEAR(r.quantile_since(before, 0.99), 0.010, 0.010 * 0.0101);
  EXPECT_NEAR(r.quantile(0.99), 2.0, 2.0 * 0.0101);
}

// The Redis state layout as the engine writes and reads it
// (connectors/redis/window_codec.h): what the engine encodes decodes to a
// state with the same reads, buckets that are not kept (window + lateness
// behind the newest) are not written, the script's forms (buckets in any order, 0 for min/max of a
// bucket without numbers) read back right, and garbage is refused.
#include <gtest/gtest.h>

#include <limits>

#include "connectors/redis/msgpack_lite.h"
#include "connectors/redis/window_codec.h"

using namespace fraud;

namespace {

FeatureDef feature(Aggregation agg, std::int64_t window_ms = 60'000, std::int64_t resolution_ms = 10'000) {
  FeatureDef f;
  f.agg = agg;
  f.window_ms = window_ms;
  f.resolution_ms = resolution_ms;
  return f;
}

WindowState roundtrip(const WindowState& s, const FeatureDef& f) {
  std::string body;
  encode_window_state(s, f, body);
  WindowState back;
  EXPECT_TRUE(decode_window_state(body, f, back));
  return back;
}

}  // namespace

TEST(WindowCodec, EveryAggregationReadsTheSameAfterARoundTrip) {
  for (Aggregation agg : {Aggregation::kCount, Aggregation::kSum, Aggregation::kMin, Aggregation::kMax,
                          Aggregation::kAvg, Aggregation::kDistinct}) {
    FeatureDef f = feature(agg);  // 6 buckets per window
    WindowState s;
    std::int64_t offset = 0;
    for (std::int64_t b : {100, 101, 101, 103, 99, 105, 105}) {
      ASSERT_FALSE(window_already_applied(s, static_cast<std::int32_t>(b % 2), ++offset));
      Value of = b == 103 ? Value::of_string("n/a") : Value::of_number(static_cast<double>(b) * 1.5 + 0.25);
      window_update(s, f, b, of, "v" + std::to_string(b % 3));
    }
    WindowState back = roundtrip(s, f);
    EXPECT_EQ(back.newest, s.newest);
    EXPECT_EQ(back.applied, s.applied);
    for (std::int64_t at = 98; at <= 108; ++at) {
      Value want = window_read(s, f, at), got = window_read(back, f, at);
      EXPECT_EQ(want.is_null(), got.is_null()) << static_cast<int>(agg) << " at " << at;
      if (want.is_number()) {
        EXPECT_EQ(want.number, got.number) << static_cast<int>(agg) << " at " << at;
      }
    }
    // Updates after a round trip land as they would have before it.
    window_update(s, f, 106, Value::of_number(-2), "v9");
    window_update(back, f, 106, Value::of_number(-2), "v9");
    EXPECT_EQ(window_read(s, f, 106).number, window_read(back, f, 106).number) << static_cast<int>(agg);
  }
}

TEST(WindowCodec, BucketsThatAreNotKeptAreNotWritten) {
  FeatureDef f = feature(Aggregation::kCount);  // n = 6
  f.late_buckets = 3;                           // keep [newest - 8, newest]
  WindowState s;
  for (std::int64_t b : {10, 20, 40}) window_update(s, f, b, Value::of_number(1), {});
  // 10 and 20 are pruned by the update at 40 already; a late one at 32 is
  // still kept (too late to be exact, but inside window + lateness), one at
  // 31 is not.
  window_update(s, f, 32, Value::of_number(1), {});
  window_update(s, f, 31, Value::of_number(1), {});
  WindowState back = roundtrip(s, f);
  ASSERT_EQ(back.buckets.size(), 2u);
  EXPECT_EQ(back.buckets[0].bucket, 32);
  EXPECT_EQ(back.buckets[1].bucket, 40);
}

TEST(WindowCodec, ReadsTheScriptsForms) {
  // newest 7, one partition (3 -> offset 42), buckets in hash order, the
  // second without numbers (the script keeps 0 for its min and max).
  FeatureDef f = feature(Aggregation::kMin);
  std::string body;
  msgpack::write_array_header(body, 4 + 12);
  for (double v : {7.0, 1.0, 3.0, 42.0, 7.0, 2.0, 2.0, 9.5, 4.0, 5.5, 5.0, 1.0, 0.0, 0.0, 0.0, 0.0}) {
    msgpack::write_number(body, v);
  }
  WindowState s;
  ASSERT_TRUE(decode_window_state(body, f, s));
  ASSERT_EQ(s.buckets.size(), 2u);
  EXPECT_EQ(s.buckets[0].bucket, 5);
  EXPECT_EQ(s.buckets[0].min, std::numeric_limits<double>::infinity());
  EXPECT_EQ(window_read(s, f, 7).number, 4.0);
  window_update(s, f, 5, Value::of_number(8), {});  // not below 0: the 0 was "no number"
  EXPECT_EQ(window_read(s, f, 5).number, 8.0);
}

TEST(WindowCodec, RefusesWhatIsNotAState) {
  FeatureDef f = feature(Aggregation::kCount);
  WindowState s;
  EXPECT_FALSE(decode_window_state("", f, s));
  EXPECT_FALSE(decode_window_state("\x92\xa1x\x01", f, s));     // a string where a number goes
  EXPECT_FALSE(decode_window_state("\x93\x01\x00\x05", f, s));  // a bucket without its count
  std::string_view stamp, body;
  split_stored_state(std::string_view("\xc1"
                                      "12345678"
                                      "\x92\x01\x00",
                                      12),
                     stamp, body);
  EXPECT_EQ(stamp.size(), kStampSize);
  EXPECT_EQ(body.size(), 3u);
  split_stored_state(std::string_view("\x92\x01\x00", 3), stamp, body);  // written before stamps existed
  EXPECT_TRUE(stamp.empty());
  EXPECT_EQ(body.size(), 3u);
}

#include <gtest/gtest.h>

#include "engine/time_text.h"
#include "engine/value.h"

using namespace fraud;

TEST(TimeText, Rfc3339Forms) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-01T09:00:00Z"), 1772355600000);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-01T17:00:00+08:00"), 1772355600000);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-01 09:00:00.250z"), 1772355600250);
  EXPECT_EQ(parse_rfc3339_ms("2026-03-01T09:00:00.9999Z"), 1772355600999);
  EXPECT_EQ(parse_rfc3339_ms("1969-12-31T23:59:59.5Z"), -500);
  EXPECT_EQ(parse_rfc3339_ms("2024-02-29T00:00:00Z"), 1709164800000);
}

TEST(TimeText, Rfc3339Rejects) {
  for (const char* bad :
       {"2026-03-01", "2026-03-01T09:00:00", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-03-01T24:00:00Z",
        "2026-03-01T09:00:00+0800", "2026-03-01T09:00:00.Z", "x026-03-01T09:00:00Z", "2026-03-01T09:00:00Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339_ms(bad).has_value()) << bad;
  }
}

TEST(TimeText, Durations) {
  EXPECT_EQ(parse_duration_ms("30s"), 30'000);
  EXPECT_EQ(parse_duration_ms("15m"), 900'000);
  EXPECT_EQ(parse_duration_ms("24h"), 86'400'000);
  EXPECT_EQ(parse_duration_ms("7d"), 604'800'000);
  for (const char* bad : {"", "h", "0h", "1.5h", "10", "-1h", "1w", "1 h", "1H"}) {
    EXPECT_FALSE(parse_duration_ms(bad).has_value()) << bad;
  }
}

TEST(ValueText, NumbersAsVerdictsShowThem) {
  std::string s;
  append_number(s, 4);
  s += ' ';
  append_number(s, -0.5);
  s += ' ';
  append_number(s, 1e300 * 1e300);
  s += ' ';
  append_number(s, 0.1 + 0.2);
  EXPECT_EQ(s, "4 -0.5 null 0.30000000000000004");
}

TEST(ValueText, JsonTextKeepsIntegerVersusFloat) {
  std::string a, b, c, d;
  append_json_text(a, Value::of_number(1, true));
  append_json_text(b, Value::of_number(1, false));
  append_json_text(c, Value::of_number(1e20, false));
  append_json_text(d, Value::of_number(0.0001, false));
  EXPECT_EQ(a, "1");
  EXPECT_EQ(b, "1.0");
  EXPECT_EQ(c, "1e+20");
  EXPECT_EQ(d, "0.0001");
}

TEST(ValueText, JsonStringEscapes) {
  std::string s;
  append_json_string(s, "a\"b\\c\n\x01贷款");
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\u0001贷款\"");
}

TEST(ValueCompare, KindsAndOrder) {
  EXPECT_TRUE(values_equal(Value::of_number(1, true), Value::of_number(1.0)));
  EXPECT_FALSE(values_equal(Value::of_string("1"), Value::of_number(1)));
  EXPECT_EQ(order_values(Value::of_string("a"), Value::of_string("b")), -1);
  EXPECT_EQ(order_values(Value::of_number(2), Value::of_number(1)), 1);
  EXPECT_FALSE(order_values(Value::of_bool(true), Value::of_bool(false)).has_value());
  EXPECT_FALSE(order_values(Value::of_string("1"), Value::of_number(1)).has_value());
}

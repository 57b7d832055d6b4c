#include <gtest/gtest.h>

#include "engine/event.h"

using namespace fraud;

namespace {

std::string reason_of(const std::string& json, std::size_t max = 1 << 20) {
  FieldTable t;
  t.intern("device.id");
  EventParser p(t, max);
  Event e;
  EventError err;
  return p.parse(json, e, err) ? "ok" : std::string(err.reason);
}

}  // namespace

TEST(EventParser, RejectsWithReasons) {
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":1})"), "ok");
  EXPECT_EQ(reason_of("not json"), "invalid_json");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":1} x)"), "invalid_json");
  EXPECT_EQ(reason_of("{\"event_id\":\"\xff\",\"event_type\":\"t\",\"ts\":1}"), "invalid_json");
  EXPECT_EQ(reason_of(R"([1,2])"), "not_object");
  EXPECT_EQ(reason_of(R"("str")"), "not_object");
  EXPECT_EQ(reason_of(R"({"event_type":"t","ts":1})"), "missing_field");
  EXPECT_EQ(reason_of(R"({"event_id":null,"event_type":"t","ts":1})"), "missing_field");
  EXPECT_EQ(reason_of(R"({"event_id":"","event_type":"t","ts":1})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":7,"event_type":"t","ts":1})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","ts":1})"), "missing_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"","ts":1})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t"})"), "missing_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":"yesterday"})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":1.5})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":true})"), "invalid_field");
  EXPECT_EQ(reason_of(R"({"event_id":"1","event_type":"t","ts":1,"pad":"xxxxxxxxxx"})", 40), "too_large");
  EXPECT_EQ(reason_of(std::string(100000, '[') + std::string(100000, ']')), "invalid_json");
}

TEST(EventParser, ReadsOnlyInternedPathsAndLastDuplicateWins) {
  FieldTable t;
  auto dev = t.intern("device.id");
  auto amount = t.intern("amount");
  auto obj = t.intern("geo");
  EventParser p(t);
  Event e;
  EventError err;
  ASSERT_TRUE(p.parse(R"({"event_id":"x","event_type":"t","ts":"2026-03-01T09:00:00Z","device":{"id":"D\u00e9"},
                         "amount":1,"amount":2.5,"geo":{"lat": 1, "lon":[2]},"other":{"deep":[1,2,3]}})",
                      e, err))
      << err.detail;
  EXPECT_EQ(e.event_id, "x");
  EXPECT_EQ(e.ts_ms, 1772355600000);
  EXPECT_EQ(e.field(dev).text, "Dé");
  EXPECT_EQ(e.field(amount).number, 2.5);
  EXPECT_EQ(e.field(obj).kind, ValueKind::kComposite);
  EXPECT_EQ(e.field(obj).text, R"({"lat":1,"lon":[2]})");
}

TEST(EventParser, BuffersAreReusedSafely) {
  FieldTable t;
  auto s = t.intern("s");
  EventParser p(t);
  Event a, b;
  EventError err;
  ASSERT_TRUE(p.parse(R"({"event_id":"1","event_type":"t","ts":1,"s":"first"})", a, err));
  ASSERT_TRUE(p.parse(R"({"event_id":"2","event_type":"t","ts":1,"s":"second"})", b, err));
  EXPECT_EQ(a.field(s).text, "first");  // events own their text
  EXPECT_EQ(a.event_id, "1");
  EXPECT_EQ(b.field(s).text, "second");
}

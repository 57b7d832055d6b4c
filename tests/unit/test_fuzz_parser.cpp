// Seeded fuzzing of the event parser (part of the normal suite): random
// mutations of real events, deep nesting, huge numbers, invalid UTF-8, wrong
// types, empty and huge inputs. The parser must never crash, must classify
// every input as an event or one of the documented reasons, and a valid
// event's required fields must really be valid.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "engine/event.h"
#include "engine/pack_loader.h"
#include "engine/synthetic_stream.h"

using namespace fraud;

namespace {

std::string mutate(std::string s, std::mt19937_64& rng) {
  int edits = 1 + static_cast<int>(rng() % 6);
  static const std::string junk[] = {"\xff",     "\xc3\x28",   "\xed\xa0\x80",
                                     "\"",       "\\",         "{",
                                     "}",        "[",          "]",
                                     ",",        ":",          "null",
                                     "1e999999", "-",          "99999999999999999999999999999",
                                     "\x00",     "\"\\u0000\""};
  for (int e = 0; e < edits && !s.empty(); ++e) {
    std::size_t pos = rng() % s.size();
    switch (rng() % 4) {
      case 0:
        s.erase(pos, 1 + rng() % 8);
        break;
      case 1:
        s.insert(pos, junk[rng() % (sizeof junk / sizeof junk[0])]);
        break;
      case 2:
        s[pos] = static_cast<char>(rng() % 256);
        break;
      default:
        s = s.substr(0, pos);
        break;
    }
  }
  return s;
}

}  // namespace

TEST(FuzzParser, RandomMutationsNeverCrashAndAreClassified) {
  auto pack = load_pack_directory(std::string(FRAUD_SOURCE_DIR) + "/rules");
  ASSERT_TRUE(pack.ok());
  EventParser parser(pack.rules->fields);
  SyntheticStream stream(SyntheticOptions{});
  std::mt19937_64 rng(20261127);
  const std::set<std::string> reasons = {"too_large", "invalid_json", "not_object", "missing_field", "invalid_field"};
  std::map<std::string, int> seen;
  Event e;
  for (int i = 0; i < 30000; ++i) {
    std::string json;
    stream.next(json);
    std::string input = i % 10 == 0 ? json : mutate(json, rng);
    EventError err;
    if (parser.parse(input, e, err)) {
      ++seen["ok"];
      EXPECT_FALSE(e.event_id.empty());
      EXPECT_FALSE(e.event_type.empty());
    } else {
      ASSERT_TRUE(reasons.count(std::string(err.reason))) << err.reason;
      EXPECT_FALSE(err.detail.empty());
      ++seen[std::string(err.reason)];
    }
  }
  EXPECT_GT(seen["ok"], 3000);
  EXPECT_GT(seen["invalid_json"], 1000);
}

TEST(FuzzParser, HostileShapes) {
  FieldTable t;
  t.intern("a.b.c");
  t.intern("amount");
  EventParser p(t, 16 << 20);
  Event e;
  EventError err;
  auto reason = [&](const std::string& s) { return p.parse(s, e, err) ? std::string("ok") : std::string(err.reason); };
  const std::string head = R"({"event_id":"x","event_type":"t","ts":1,)";
  EXPECT_EQ(reason(head + "\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}"),
            "invalid_json");  // too deep
  EXPECT_EQ(reason(head + "\"a\":" + std::string(500, '[') + std::string(500, ']') + "}"), "ok");
  EXPECT_EQ(reason(head + "\"amount\":1e400}"), "invalid_json");
  EXPECT_EQ(reason(head + "\"amount\":123456789012345678901234567890}"), "ok");  // big integer: a number
  EXPECT_EQ(reason(head + "\"amount\":-0.0000000000000000000001}"), "ok");
  EXPECT_EQ(reason(head + "\"a\":\"\xc3\x28\"}"), "invalid_json");  // invalid UTF-8
  EXPECT_EQ(reason(head + "\"a\":{\"b\":{\"c\":[1,{\"x\":null}]}}}"), "ok");
  EXPECT_EQ(reason(""), "invalid_json");
  EXPECT_EQ(reason("   "), "invalid_json");
  EXPECT_EQ(reason("null"), "not_object");
  EXPECT_EQ(reason("{}"), "missing_field");
  EXPECT_EQ(reason(R"({"event_id":{"x":1},"event_type":"t","ts":1})"), "invalid_field");
  EXPECT_EQ(reason(R"({"event_id":"x","event_type":["t"],"ts":1})"), "invalid_field");
  std::string big = head + "\"pad\":\"" + std::string(10 << 20, 'x') + "\"}";
  EXPECT_EQ(reason(big), "ok");  // 10 MB under a 16 MB limit parses
  EventParser strict(t);         // default 1 MiB
  EXPECT_FALSE(strict.parse(big, e, err));
  EXPECT_EQ(err.reason, "too_large");
}

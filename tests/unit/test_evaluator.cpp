// Every operator and function of RULES.md, including the null cases. Each
// expression is rendered through a reason template (`{expr}`), which shows
// strings raw, numbers shortest and null as `null`.
#include <gtest/gtest.h>

#include "pack_fixture.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

std::string quote_single(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string eval(const std::string& expr, const std::string& fields = "") {
  std::string yaml =
      "lists:\n  - name: L\n    items: [\"a\", 1, true]\n"
      "rules:\n  - name: r\n    when: 'true'\n    reason: " +
      quote_single("{" + expr + "}") + "\n";
  PackLoadResult pack = compile_pack({{"p.yaml", yaml}});
  if (!pack.ok()) return "COMPILE ERROR: " + pack.diagnostics.to_text();
  Runner runner(pack.rules);
  std::string ev = R"({"event_id":"e","event_type":"t","ts":1000)" + (fields.empty() ? "" : "," + fields) + "}";
  Outcome o = runner.run(ev);
  return o.verdict.hit_count == 1 ? o.verdict.hits[0].reason : "NO MATCH";
}

bool when(const std::string& cond, const std::string& fields = "") { return eval(cond, fields) == "true"; }

}  // namespace

TEST(Evaluator, Arithmetic) {
  EXPECT_EQ(eval("1 + 2 * 3"), "7");
  EXPECT_EQ(eval("7 / 2"), "3.5");
  EXPECT_EQ(eval("7 % 3"), "1");
  EXPECT_EQ(eval("-7 % 3"), "-1");  // sign of the dividend, like C fmod
  EXPECT_EQ(eval("7 % -3"), "1");
  EXPECT_EQ(eval("5.5 % 2"), "1.5");
  EXPECT_EQ(eval("-amount", R"("amount":3)"), "-3");
  EXPECT_EQ(eval("1 / 0"), "null");
  EXPECT_EQ(eval("1 % 0"), "null");
  EXPECT_EQ(eval("amount + 1"), "null");  // missing field
  EXPECT_EQ(eval("amount + 1", R"("amount":null)"), "null");
  EXPECT_EQ(eval("amount + 1", R"("amount":"5")"), "null");  // string operand
  EXPECT_EQ(eval("amount * 2", R"("amount":true)"), "null");
  EXPECT_EQ(eval("-amount", R"("amount":"x")"), "null");
  EXPECT_EQ(eval("a.b.c * 2", R"("a":{"b":{"c":21}})"), "42");
}

TEST(Evaluator, BooleanLogicTreatsNonTrueAsFalse) {
  EXPECT_EQ(eval("not x"), "true");              // null
  EXPECT_EQ(eval("not x", R"("x":1)"), "true");  // number is not true
  EXPECT_EQ(eval("not x", R"("x":true)"), "false");
  EXPECT_EQ(eval("x and true", R"("x":"true")"), "false");
  EXPECT_EQ(eval("x or y", R"("y":true)"), "true");
  EXPECT_EQ(eval("x or y"), "false");
  EXPECT_FALSE(when("x", R"("x":1)"));
}

TEST(Evaluator, EqualityAndNull) {
  EXPECT_EQ(eval("x == null"), "true");
  EXPECT_EQ(eval("null == x", R"("x":null)"), "true");
  EXPECT_EQ(eval("x != null"), "false");
  EXPECT_EQ(eval("x != null", R"("x":0)"), "true");
  EXPECT_EQ(eval("x == y"), "false");  // both null, but not the literal
  EXPECT_EQ(eval("x != y"), "false");
  EXPECT_EQ(eval("x != 1"), "false");  // null operand: false, even for !=
  EXPECT_EQ(eval("x == 1", R"("x":1.0)"), "true");
  EXPECT_EQ(eval("x == \"1\"", R"("x":1)"), "false");  // different kinds
  EXPECT_EQ(eval("x != \"1\"", R"("x":1)"), "false");  // ... both ways
  EXPECT_EQ(eval("x == true", R"("x":true)"), "true");
  EXPECT_EQ(eval("x != y", R"("x":"a","y":"b")"), "true");
  EXPECT_EQ(eval("x == y", R"("x":{"a":1},"y":{"a":1})"), "true");
}

TEST(Evaluator, Ordering) {
  EXPECT_EQ(eval("x < 2", R"("x":1)"), "true");
  EXPECT_EQ(eval("x >= 1", R"("x":1.0)"), "true");
  EXPECT_EQ(eval("x > \"a\"", R"("x":"b")"), "true");
  EXPECT_EQ(eval("x < \"B\"", R"("x":"a")"), "false");  // bytewise: 'a' > 'B'
  EXPECT_EQ(eval("x < 1", R"("x":"0")"), "false");
  EXPECT_EQ(eval("x <= 1"), "false");
  EXPECT_EQ(eval("x > y", R"("x":true,"y":false)"), "false");
}

TEST(Evaluator, Membership) {
  EXPECT_EQ(eval("x in L", R"("x":"a")"), "true");
  EXPECT_EQ(eval("x in L", R"("x":1.0)"), "true");
  EXPECT_EQ(eval("x in L", R"("x":"1")"), "false");
  EXPECT_EQ(eval("x in L", R"("x":true)"), "true");
  EXPECT_EQ(eval("x in L"), "false");
  EXPECT_EQ(eval("x not in L"), "true");  // exactly not (x in L)
  EXPECT_EQ(eval("x in [null]"), "false");
  EXPECT_EQ(eval("x not in [\"a\", \"b\"]", R"("x":"b")"), "false");
  EXPECT_EQ(eval("x in [-2, 3]", R"("x":-2)"), "true");
}

TEST(Evaluator, StringFunctions) {
  EXPECT_EQ(eval("lower(s)", R"("s":"AbC-9")"), "abc-9");
  EXPECT_EQ(eval("upper(s)", R"("s":"AbC-9")"), "ABC-9");
  EXPECT_EQ(eval("lower(s)", R"("s":5)"), "null");
  EXPECT_EQ(eval("upper(s)"), "null");
  EXPECT_EQ(eval("len(s)", R"("s":"贷款ab")"), "4");
  EXPECT_EQ(eval("len(s)", R"("s":[1,2])"), "null");
  EXPECT_EQ(eval("starts_with(s, \"13\")", R"("s":"138")"), "true");
  EXPECT_EQ(eval("starts_with(s, \"13\")", R"("s":138)"), "false");
  EXPECT_EQ(eval("starts_with(s, \"13\")"), "false");
  EXPECT_EQ(eval("ends_with(s, p)", R"("s":"abc","p":"bc")"), "true");
  EXPECT_EQ(eval("ends_with(s, p)", R"("s":"abc")"), "false");
  EXPECT_EQ(eval("contains(s, \"b\")", R"("s":"abc")"), "true");
  EXPECT_EQ(eval("contains(s, \"z\")", R"("s":"abc")"), "false");
  EXPECT_EQ(eval("contains(s, \"b\")", R"("s":null)"), "false");
  EXPECT_EQ(eval("lower(s) == \"abc\"", R"("s":"ABC")"), "true");
}

TEST(Evaluator, NumericFunctions) {
  EXPECT_EQ(eval("abs(x)", R"("x":-2.5)"), "2.5");
  EXPECT_EQ(eval("abs(x)", R"("x":"2")"), "null");
  EXPECT_EQ(eval("min(x, 3)", R"("x":5)"), "3");
  EXPECT_EQ(eval("max(x, 3)", R"("x":5)"), "5");
  EXPECT_EQ(eval("max(x, 3)"), "null");
  EXPECT_EQ(eval("min(x, y)", R"("x":1,"y":"0")"), "null");
  EXPECT_EQ(eval("exists(x)"), "false");
  EXPECT_EQ(eval("exists(x)", R"("x":null)"), "false");
  EXPECT_EQ(eval("exists(x)", R"("x":0)"), "true");
  EXPECT_EQ(eval("exists(a.b)", R"("a":{"b":false})"), "true");
}

TEST(Evaluator, TimeAndGeoFunctions) {
  // 2026-03-01T09:30:00Z
  EXPECT_EQ(eval("hour_of_day(t, 0)", R"("t":1772357400000)"), "9");
  EXPECT_EQ(eval("hour_of_day(t, 8)", R"("t":1772357400000)"), "17");
  EXPECT_EQ(eval("hour_of_day(t, -10)", R"("t":1772357400000)"), "23");
  EXPECT_EQ(eval("hour_of_day(t, 5.5)", R"("t":1772357400000)"), "15");
  EXPECT_EQ(eval("hour_of_day(t, 8)", R"("t":"2026-03-01T09:30:00Z")"), "null");
  EXPECT_EQ(eval("hour_of_day(t, 8)"), "null");
  // Shanghai to Beijing, about 1068 km.
  std::string km = eval("geo_km(31.2304, 121.4737, 39.9042, 116.4074)");
  EXPECT_NEAR(std::stod(km), 1067.0, 5.0) << km;
  EXPECT_EQ(eval("geo_km(a, 0, 0, 0)"), "null");
  EXPECT_EQ(eval("geo_km(1, 2, 1, 2)"), "0");
}

TEST(Evaluator, MacrosAndFeaturesInExpressions) {
  auto rules = compile_ok(R"(
macros:
  - name: big
    condition: amount >= 100
  - name: big_app
    condition: big and event_type == "app"
features:
  - name: n_by_user
    agg: count
    by: user
    window: 1h
rules:
  - name: r
    when: big_app and n_by_user >= 2
    score: 10
    reason: "{n_by_user} apps, amount {amount}"
)");
  ASSERT_TRUE(rules);
  Runner run(rules);
  EXPECT_EQ(run.run(R"({"event_id":"1","event_type":"app","ts":0,"user":"u","amount":100})").verdict.hit_count, 0u);
  Outcome o = run.run(R"({"event_id":"2","event_type":"app","ts":1,"user":"u","amount":150})");
  ASSERT_EQ(o.verdict.hit_count, 1u);
  EXPECT_EQ(o.verdict.hits[0].reason, "2 apps, amount 150");
  EXPECT_EQ(run.run(R"({"event_id":"3","event_type":"pay","ts":2,"user":"u","amount":150})").verdict.hit_count, 0u);
}

#include <gtest/gtest.h>

#include "pack_fixture.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

// "line:col code" of every error, in order.
std::vector<std::string> errors_of(const std::string& yaml) {
  Diagnostics d = compile_errors(yaml);
  std::vector<std::string> out;
  for (const auto& x : d.items()) {
    if (x.severity == Severity::kError) {
      out.push_back(std::to_string(x.pos.line) + ":" + std::to_string(x.pos.col) + " " + x.code);
    }
  }
  return out;
}

std::vector<std::string> warnings_of(const std::string& yaml) {
  PackLoadResult r = compile_pack({{"pack.yaml", yaml}});
  std::vector<std::string> out;
  for (const auto& x : r.diagnostics.items()) {
    if (x.severity == Severity::kWarning) out.push_back(std::to_string(x.pos.line) + " " + x.code);
  }
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(PackLoader, CollectsEveryErrorWithPosition) {
  EXPECT_EQ(errors_of(R"(rules:
  - name: a
    when: amount > 1 and x in nolist
    score: 1
  - name: b
    when: amount + "x" > 1
    decision: maybe
)"),
            (V{"3:31 E308", "6:20 E305", "7:15 E501"}));
}

TEST(PackLoader, YamlSyntaxError) {
  EXPECT_EQ(errors_of("rules:\n  - name: a\n    when: [unclosed\n"), (V{"4:1 E001"}));
}

TEST(PackLoader, UnknownKeysEverywhere) {
  EXPECT_EQ(errors_of(R"(rule:
  - name: a
settings:
  score_thresholds: {review: 5, decline: 8, block: 9}
features:
  - name: f
    agg: count
    by: d
    window: 1h
    windw: 2h
)"),
            (V{"1:1 E101", "4:45 E101", "10:5 E101"}));
}

TEST(PackLoader, DuplicateNamesAcrossKindsAndFiles) {
  PackLoadResult r = compile_pack({{"a.yaml", "lists:\n  - name: x\n    items: [1]\n"},
                                   {"b.yaml", "macros:\n  - name: x\n    condition: 'true'\n"}});
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.diagnostics.error_count(), 1u);
  EXPECT_EQ(r.diagnostics.items()[0].code, "E201");
  EXPECT_EQ(r.diagnostics.items()[0].pos.file, "b.yaml");
  EXPECT_NE(r.diagnostics.items()[0].message.find("a.yaml:2:11"), std::string::npos);
}

TEST(PackLoader, SettingsOnlyOnce) {
  PackLoadResult r = compile_pack({{"a.yaml", "settings: {score_thresholds: {review: 1, decline: 2}}\n"},
                                   {"b.yaml", "settings: {score_thresholds: {review: 1, decline: 2}}\n"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.diagnostics.items()[0].code, "E202");
  EXPECT_EQ(r.diagnostics.items()[0].pos.file, "b.yaml");
}

TEST(PackLoader, MacroCycle) {
  auto e = errors_of(R"(macros:
  - name: a
    condition: b and x
  - name: b
    condition: c or y
  - name: c
    condition: not a
rules:
  - name: r
    when: a
)");
  ASSERT_FALSE(e.empty());
  EXPECT_EQ(e[0], "7:20 E310");
}

TEST(PackLoader, SelfReferencingMacro) {
  EXPECT_EQ(errors_of("macros:\n  - name: a\n    condition: a or x\n"), (V{"3:16 E310"}));
}

TEST(PackLoader, FeatureDefinitionErrors) {
  EXPECT_EQ(
      errors_of(R"(features:
  - name: f1
    agg: sum
    by: d
    window: 1h
  - name: f2
    agg: count
    by: d
    window: 90m
    resolution: 7m
  - name: f3
    agg: count
    by: d
    window: 1.5h
  - name: f4
    agg: count
    by: "d-x"
    window: 1h
  - name: f5
    agg: distinct
    of: x
    by: d
    window: 1h
    where: f1 > 2
  - name: f6
    agg: count
    window: 1h
    by: d
    resolution: 2h
  - name: f7
    agg: mean
    of: x
    by: d
    window: 1s
)"),
      (V{"2:5 E404", "10:17 E402", "14:13 E401", "17:9 E405", "24:12 E309", "29:17 E402", "31:10 E403", "34:13 E406"}));
}

TEST(PackLoader, WhereMayNotReadFeaturesThroughMacros) {
  auto e = errors_of(R"(features:
  - name: f
    agg: count
    by: d
    window: 1h
  - name: g
    agg: count
    by: d
    window: 1h
    where: uses_f
macros:
  - name: uses_f
    condition: f > 1
)");
  EXPECT_EQ(e, (V{"10:12 E309"}));
}

TEST(PackLoader, KnowableTypeErrors) {
  EXPECT_EQ(errors_of(R"(lists:
  - name: L
    items: [a]
rules:
  - name: r1
    when: amount + 1
  - name: r2
    when: L == "a"
  - name: r3
    when: len(5) > 1
  - name: r4
    when: nope(x)
  - name: r5
    when: max(x) > 1
  - name: r6
    when: 5 and x
  - name: r7
    when: x in r1
  - name: r8
    when: r1 == 1
)"),
            (V{"6:11 E306", "8:11 E307", "10:15 E305", "12:11 E303", "14:11 E304", "16:11 E306",
               "18:16 E308"}));  // r8: a rule name reads the field
}

TEST(PackLoader, RuleFieldErrors) {
  EXPECT_EQ(
      errors_of(R"(rules:
  - name: r
    when: x == 1
    score: high
    mode: loud
    reason: "count {x"
    enabled: maybe
  - name: 9lives
    when: x
  - when: x
  - name: s
    reason: "a } b"
)"),
      (V{"4:12 E503", "5:11 E502", "6:20 E505", "7:14 E103", "8:11 E105", "10:5 E102", "11:5 E102", "12:16 E505"}));
}

TEST(PackLoader, WarningsDoNotFail) {
  auto w = warnings_of(R"(features:
  - name: apps_per_id
    agg: count
    of: x
    by: id
    window: 1h
rules:
  - name: r
    when: apps_per_idd > 1 and x == "a" and 1 == "1"
)");
  EXPECT_EQ(w, (V{"4 W303", "8 W304", "9 W301", "9 W302"}));
}

TEST(PackLoader, BlockScalarExpressionPositions) {
  EXPECT_EQ(errors_of("rules:\n  - name: r\n    when: >\n      x == 1 and\n      y =! 2\n"), (V{"5:9 E301"}));
}

TEST(PackLoader, ThresholdsAndVersion) {
  auto a = compile_ok("settings: {score_thresholds: {review: 10, decline: 20}}\nrules: []\n");
  auto b = compile_ok("settings: {score_thresholds: {review: 10, decline: 21}}\nrules: []\n");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->thresholds.review, 10);
  EXPECT_EQ(a->thresholds.decline, 20);
  EXPECT_EQ(a->version.size(), 64u);
  EXPECT_NE(a->version, b->version);
  EXPECT_EQ(errors_of("settings: {score_thresholds: {review: 90, decline: 20}}\n"), (V{"1:30 E504"}));
}

TEST(PackLoader, EventTypeIndex) {
  auto rs = compile_ok(R"(macros:
  - name: app
    condition: event_type == "app"
rules:
  - name: only_app
    when: app and x > 1
  - name: app_or_pay
    when: event_type in ["app", "pay"] and x > 1
  - name: any
    when: x > 1 or event_type == "pay"
)");
  ASSERT_TRUE(rs);
  EXPECT_EQ(rs->plan_for("app").rules, (std::vector<std::uint32_t>{0, 1, 2}));
  EXPECT_EQ(rs->plan_for("pay").rules, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(rs->plan_for("other").rules, (std::vector<std::uint32_t>{2}));
}

TEST(PackLoader, ReadGuardsAreTheReadingRulesFeatureFreeConjuncts) {
  auto rs = compile_ok(R"(features:
  - name: f
    agg: count
    by: k
    window: 1h
  - name: g
    agg: count
    by: k
    window: 1h
  - name: h
    agg: count
    by: k
    window: 1h
macros:
  - name: app
    condition: event_type == "app"
  - name: big
    condition: app and amount >= 100
rules:
  - name: guarded
    when: big and f > 1 and channel == "web"
  - name: big_f
    when: big and f > 2
  - name: same_guard
    when: f > 3 and big
  - name: other_guard
    when: amount < 5 and f + g > 3
  - name: unguarded
    when: app and h > 1
  - name: or_is_one_conjunct
    when: (amount > 7 or h > 2) and g > 0
)");
  ASSERT_TRUE(rs);
  const TypePlan& plan = rs->plan_for("app");
  ASSERT_EQ(plan.features, (std::vector<std::uint32_t>{0, 1, 2}));
  auto guard_sizes = [&](std::size_t entry) {
    std::vector<std::size_t> sizes;
    for (const auto& guard : plan.read_guards[entry]) sizes.push_back(guard.size());
    return sizes;
  };
  // f: `app` is implied by the type and left out; one guard per distinct
  // set of conjunct nodes: (amount >= 100, channel == "web"), the macro's
  // (amount >= 100) once for two rules, then (amount < 5).
  EXPECT_EQ(guard_sizes(0), (std::vector<std::size_t>{2, 1, 1}));
  // g: read by other_guard, and by a rule whose only other conjunct reads h.
  EXPECT_TRUE(plan.read_guards[1].empty());
  EXPECT_TRUE(plan.read_guards[2].empty());  // unguarded: `app` alone is implied
  // Another type plans only the rules that can match it.
  EXPECT_EQ(rs->plan_for("pay").read_guards[0].size(), 1u);      // (amount < 5)
  EXPECT_TRUE(rs->full_plan_for("app").read_guards[0].empty());  // rule tests read everything
}

TEST(PackLoader, DisabledRuleIsCheckedButNotRun) {
  auto rs = compile_ok("rules:\n  - name: r\n    when: 'true'\n    enabled: false\n    reason: x\n");
  ASSERT_TRUE(rs);
  EXPECT_TRUE(rs->rules.empty());
  EXPECT_EQ(errors_of("rules:\n  - name: r\n    when: x +\n    enabled: false\n"), (V{"3:14 E301"}));
}

TEST(PackLoader, ListFromFile) {
  PackLoadResult r = compile_pack(
      {{"p.yaml", "lists:\n  - name: L\n    file: l.txt\nrules:\n  - name: r\n    when: x in L\n    reason: hit\n"}},
      [](const std::string& name) -> std::optional<std::string> {
        if (name == "l.txt") return std::string("# comment\n a \n\nb\r\n");
        return std::nullopt;
      });
  ASSERT_TRUE(r.ok()) << r.diagnostics.to_text();
  EXPECT_TRUE(r.rules->lists[0].contains(Value::of_string("a")));
  EXPECT_TRUE(r.rules->lists[0].contains(Value::of_string("b")));
  EXPECT_EQ(r.rules->lists[0].size(), 2u);
  PackLoadResult missing = compile_pack({{"p.yaml", "lists:\n  - name: L\n    file: none.txt\n"}},
                                        [](const std::string&) { return std::optional<std::string>(); });
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.diagnostics.items()[0].code, "E002");
}

TEST(PackLoader, MillionItemListFromFile) {
  std::string items;
  items.reserve(16'000'000);
  for (int i = 0; i < 1'000'000; ++i) items += "dev-" + std::to_string(i * 7 + 3) + "\n";
  PackLoadResult r = compile_pack({{"p.yaml",
                                    "lists:\n  - name: blocked\n    file: blocked.txt\nrules:\n  - name: r\n    when: "
                                    "d in blocked\n    reason: x\n"}},
                                  [&](const std::string&) { return std::optional<std::string>(items); });
  ASSERT_TRUE(r.ok()) << r.diagnostics.to_text();
  const ListSet& l = r.rules->lists[0];
  EXPECT_EQ(l.size(), 1'000'000u);
  EXPECT_TRUE(l.contains(Value::of_string("dev-3")));
  EXPECT_TRUE(l.contains(Value::of_string("dev-6999996")));
  EXPECT_FALSE(l.contains(Value::of_string("dev-4")));
  EXPECT_FALSE(l.contains(Value::of_number(3)));
}

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/cli/rule_tests.h"
#include "pack_fixture.h"

namespace fs = std::filesystem;
using namespace fraud;
using namespace fraud::testing;

TEST(RuleTests, ReportsExpectedVersusActual) {
  auto rules = compile_ok(R"(features:
  - name: n
    agg: count
    by: u
    window: 1h
rules:
  - name: twice
    when: n >= 2
    score: 50
    reason: "{n} times"
)");
  fs::path dir = fs::path(::testing::TempDir()) / "rule_tests_case";
  fs::create_directories(dir);
  std::ofstream(dir / "t.yaml") << R"(cases:
  - name: passes
    events:
      - {event_type: a, ts: 0, u: x}
      - {event_type: a, ts: 1, u: x}
    expect:
      - decision: review
        rules: [twice]
        features: {n: 2}
        reasons: {twice: "2 times"}
  - name: fails
    events:
      - {event_id: only, event_type: a, ts: 0, u: x}
    expect:
      - event_id: only
        decision: decline
        rules: [twice]
        features: {n: 5}
)";
  RuleTestReport r = run_rule_tests(*rules, dir);
  EXPECT_EQ(r.passed, 1);
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.errors, 0);
  EXPECT_NE(r.output.find("event only: decision: expected decline, got allow"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("event only: rules: expected [twice], got []"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("event only: feature n: expected 5, got 1"), std::string::npos) << r.output;
}

TEST(RuleTests, MalformedCasesAreErrorsNotPasses) {
  auto rules = compile_ok("rules:\n  - name: r\n    when: x == 1\n    reason: r\n");
  fs::path dir = fs::path(::testing::TempDir()) / "rule_tests_bad";
  fs::create_directories(dir);
  std::ofstream(dir / "t.yaml") << R"(cases:
  - name: unknown rule name
    events: [{event_type: a, ts: 0}]
    expect: [{rules: [nope]}]
  - name: bad event
    events: [{event_type: a}]
    expect: [{decision: allow}]
  - name: typo in key
    events: [{event_type: a, ts: 0}]
    expect: [{decison: allow}]
)";
  RuleTestReport r = run_rule_tests(*rules, dir);
  EXPECT_EQ(r.passed, 0);
  EXPECT_EQ(r.errors, 3) << r.output;
}

TEST(RuleTests, ModelScoreRangesPassAndFail) {
  namespace fs = std::filesystem;
  fs::path pack = fs::path(::testing::TempDir()) / "model-range-pack";
  fs::remove_all(pack);
  fs::create_directories(pack / "tests");
  fs::copy_file(std::string(FRAUD_SOURCE_DIR) + "/tests/data/models/logistic.json", pack / "m.json");
  std::ofstream(pack / "rules.yaml") << "models:\n  - name: m\n    file: m.json\n    inputs: [a, b, c, d]\n"
                                        "rules:\n  - name: r\n    when: m > 0.5\n    reason: risky\n";
  std::ofstream(pack / "tests" / "t.yaml")
      << "cases:\n"
         "  - name: in range\n    events: [{event_type: t, ts: 1, a: 3, b: 0, c: 0, d: 0}]\n"
         "    expect: [{models: {m: [0, 1]}}]\n"
         "  - name: out of range\n    events: [{event_type: t, ts: 1, a: 3, b: 0, c: 0, d: 0}]\n"
         "    expect: [{models: {m: [2, 3]}}]\n"
         "  - name: not scored\n    events: [{event_type: t, ts: 1, a: 3, b: 0, c: 0, d: 0}]\n"
         "    expect: [{models: {m: null}}]\n";
  PackLoadResult loaded = load_pack_directory(pack);
  ASSERT_TRUE(loaded.ok()) << loaded.diagnostics.to_text();
  RuleTestReport r = run_rule_tests(*loaded.rules, pack / "tests");
  EXPECT_EQ(r.passed, 1) << r.output;
  EXPECT_EQ(r.failed, 2) << r.output;
  EXPECT_NE(r.output.find("model m: expected a score in [2, 3], got 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model m: expected null, got 0."), std::string::npos) << r.output;
}

#include <gtest/gtest.h>

#include "pack_fixture.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

const char* kPack = R"(settings:
  score_thresholds: {review: 50, decline: 80}
features:
  - name: ids_per_device_24h
    agg: distinct
    of: id_number
    by: device_id
    window: 24h
  - name: unused
    agg: count
    by: device_id
    window: 1h
rules:
  - name: device_shared_by_ids
    when: ids_per_device_24h >= 2
    score: 60
    decision: decline
    reason: "device used by {ids_per_device_24h} ID numbers in 24h"
  - name: plus_thirty
    when: amount > 10
    score: 30
    reason: "amount {amount}"
  - name: minus_ten
    when: vip == true
    score: -10
  - name: force_review
    when: region == "X"
    decision: review
    reason: "region \"X\""
  - name: watch
    when: amount > 10
    score: 1000
    decision: decline
    mode: shadow
    reason: "would add {amount}"
)";

std::string e(const std::string& fields) {
  return R"({"event_id":"e-1","event_type":"loan_application","ts":0,)" + fields + "}";
}

}  // namespace

TEST(Decision, ScoreThresholdsAndRuleFloors) {
  Runner r(compile_ok(kPack));
  EXPECT_EQ(r.run(e(R"("amount":5)")).verdict.decision, Decision::kAllow);
  Outcome o = r.run(e(R"("amount":50)"));
  EXPECT_EQ(o.verdict.score, 30);
  EXPECT_EQ(o.verdict.decision, Decision::kAllow);  // shadow rule never counts
  EXPECT_EQ(o.verdict.shadow_count, 1u);
  o = r.run(e(R"("amount":50,"region":"X")"));
  EXPECT_EQ(o.verdict.decision, Decision::kReview);  // raised by the rule's decision
  o = r.run(e(R"("amount":50,"vip":true,"region":"X")"));
  EXPECT_EQ(o.verdict.score, 20);
  EXPECT_EQ(o.verdict.decision, Decision::kReview);
  o = r.run(e(R"("device_id":"d","id_number":"1")"));
  o = r.run(e(R"("device_id":"d","id_number":"2")"));
  EXPECT_EQ(o.verdict.score, 60);
  EXPECT_EQ(o.verdict.decision, Decision::kDecline);  // floor above the score's review
  o = r.run(e(R"("device_id":"d","id_number":"3","amount":20,"vip":true)"));
  EXPECT_EQ(o.verdict.score, 80);
  EXPECT_EQ(o.verdict.decision, Decision::kDecline);
}

TEST(Decision, ExactThresholdBoundaries) {
  Diagnostics d = compile_errors(R"(rules:
  - name: r
    when: exists(s)
    score: s
)");
  EXPECT_EQ(d.items().back().code, "E503");  // score must be a number literal
  auto ok = compile_ok(R"(rules:
  - name: a
    when: x >= 1
    score: 50
  - name: b
    when: x >= 2
    score: 29.5
  - name: c
    when: x >= 3
    score: 0.5
)");
  Runner r(ok);
  EXPECT_EQ(r.run(e(R"("x":1)")).verdict.decision, Decision::kReview);   // 50 == review
  EXPECT_EQ(r.run(e(R"("x":2)")).verdict.decision, Decision::kReview);   // 79.5
  EXPECT_EQ(r.run(e(R"("x":3)")).verdict.decision, Decision::kDecline);  // 80 == decline
}

TEST(VerdictEncoding, ExactFormat) {
  Runner r(compile_ok(kPack));
  r.run(e(R"("device_id":"d","id_number":"1")"));
  Outcome o = r.run(e(R"("device_id":"d","id_number":"2","amount":12.5,"region":"X")"));
  std::string expected =
      R"({"event_id":"e-1","event_type":"loan_application","decision":"decline","score":90,)"
      R"("rules":[{"name":"device_shared_by_ids","score":60,"decision":"decline","reason":"device used by 2 ID numbers in 24h"},)"
      R"({"name":"plus_thirty","score":30,"reason":"amount 12.5"},)"
      R"({"name":"force_review","score":0,"decision":"review","reason":"region \"X\""}],)"
      R"("shadow_rules":[{"name":"watch","score":1000,"decision":"decline","reason":"would add 12.5"}],)"
      R"("features":{"ids_per_device_24h":2},"rules_version":")" +
      r.rules().version + R"(","source":{"topic":"t","partition":0,"offset":1}})";
  EXPECT_EQ(o.json, expected);
}

TEST(VerdictEncoding, AllowWithNothingMatched) {
  Runner r(compile_ok(kPack));
  Outcome o = r.run(R"({"event_id":"a\"b","event_type":"t","ts":"2026-01-01T00:00:00Z"})");
  EXPECT_EQ(
      o.json,
      R"({"event_id":"a\"b","event_type":"t","decision":"allow","score":0,"rules":[],"shadow_rules":[],"features":{},"rules_version":")" +
          r.rules().version + R"(","source":{"topic":"t","partition":0,"offset":0}})");
}

TEST(VerdictEncoding, NullFeatureOfAMatchedRule) {
  auto rules = compile_ok(R"(features:
  - name: lo
    agg: min
    of: amount
    by: k
    window: 1h
rules:
  - name: r
    when: lo == null
    reason: "min is {lo}"
)");
  Runner r(rules);
  Outcome o = r.run(R"({"event_id":"1","event_type":"t","ts":0,"k":"a"})");
  EXPECT_NE(o.json.find(R"("features":{"lo":null})"), std::string::npos) << o.json;
  EXPECT_NE(o.json.find(R"("reason":"min is null")"), std::string::npos) << o.json;
}

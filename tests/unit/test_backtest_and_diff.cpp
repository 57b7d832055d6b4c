// Backtest figures and verdict diff counts on small hand-made streams.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/cli/backtest_report.h"
#include "engine/cli/replay.h"
#include "engine/cli/verdict_diff.h"
#include "engine/pack_loader.h"
#include "model_fixtures.h"

using namespace fraud;

namespace {

const char* kPack = R"(settings:
  score_thresholds: {review: 50, decline: 80}
rules:
  - name: big
    when: amount >= 1000
    score: 50
    reason: big
  - name: huge
    when: amount >= 5000
    score: 40
    reason: huge
  - name: watch
    when: amount >= 100
    mode: shadow
    reason: watch
)";

std::shared_ptr<const RuleSet> pack(const char* yaml, std::vector<std::string> extra = {}) {
  PackLoadOptions o;
  o.extra_fields = std::move(extra);
  auto r = compile_pack({{"p.yaml", yaml}}, {}, o);
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
  return r.rules;
}

std::string ev(int i, int amount, const std::string& label) {
  return "{\"event_id\":\"e" + std::to_string(i) + "\",\"event_type\":\"t\",\"ts\":" + std::to_string(i * 1000) +
         ",\"amount\":" + std::to_string(amount) + (label.empty() ? "" : ",\"is_fraud\":" + label) + "}\n";
}

}  // namespace

TEST(Backtest, PrecisionRecallPerRuleAndPack) {
  auto rules = pack(kPack, {"is_fraud"});
  // amount, label:   50 0 | 200 0 | 1500 1 | 1200 0 | 6000 1 | 7000 1 | 300 1 | 2000 "true" | 10 (no label)
  std::string lines = ev(1, 50, "0") + ev(2, 200, "0") + ev(3, 1500, "1") + ev(4, 1200, "0") + ev(5, 6000, "1") +
                      ev(6, 7000, "1") + ev(7, 300, "1") + ev(8, 2000, "true") + ev(9, 10, "");
  std::istringstream in(lines);
  std::ostringstream errors;
  MemoryFeatureStore store;
  ReplayOptions o;
  o.label_slot = rules->fields.find("is_fraud");
  ASSERT_TRUE(o.label_slot);
  ReplayStats s = replay_events(*rules, store, in, nullptr, errors, o);
  EXPECT_EQ(s.events, 9u);
  EXPECT_EQ(s.labelled, 8u);
  EXPECT_EQ(s.positives, 5u);
  // big: e3 e4 e5 e6 e8 -> TP 4 (e3 e5 e6 e8), FP 1 (e4)
  EXPECT_EQ(s.rule_hits[0], 5u);
  EXPECT_EQ(s.rule_true_hits[0], 4u);
  EXPECT_EQ(s.rule_labelled_hits[0], 5u);
  // huge: e5 e6 -> TP 2
  EXPECT_EQ(s.rule_true_hits[1], 2u);
  EXPECT_EQ(s.rule_labelled_hits[1], 2u);
  // watch (shadow): e2..e8 -> 7 hits, TP 5
  EXPECT_EQ(s.rule_hits[2], 7u);
  EXPECT_EQ(s.rule_true_hits[2], 5u);
  // pack: review = big only (50): e3 e4 e8; decline = big+huge (90): e5 e6
  EXPECT_EQ(s.decisions[1], 3u);
  EXPECT_EQ(s.decisions[2], 2u);
  EXPECT_EQ(s.flagged_labelled, 5u);
  EXPECT_EQ(s.flagged_true, 4u);
  EXPECT_EQ(s.declined_true, 2u);
  std::string table = format_replay_table(*rules, s);
  EXPECT_NE(table.find("big                              enforce           5         4         1     0.800    0.800"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("PACK: decline                                      2         2         0     1.000    0.400"),
            std::string::npos)
      << table;
  std::string html = backtest_html(*rules, s, "t");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos) << "self-contained: no external links";
}

TEST(VerdictDiff, CountsDirectionsAndCauses) {
  auto base = pack(kPack);
  std::string cand_yaml = kPack;
  cand_yaml.replace(cand_yaml.find("amount >= 1000"), 14, "amount >= 500 ");
  auto cand = pack(cand_yaml.c_str());
  std::string lines = ev(1, 50, "") + ev(2, 600, "") + ev(3, 700, "") + ev(4, 1500, "") + ev(5, 6000, "") +
                      "garbage\n" + ev(6, 4999, "");
  std::istringstream in(lines);
  std::ostringstream errors;
  DiffResult d = diff_verdicts(*base, *cand, in, errors);
  EXPECT_EQ(d.events, 6u);
  EXPECT_EQ(d.invalid, 1u);
  EXPECT_EQ(d.changed, 2u);  // e2, e3: allow -> review
  EXPECT_EQ(d.transitions[0][1], 2u);
  EXPECT_EQ(d.transitions[1][1], 2u);
  EXPECT_EQ(d.transitions[2][2], 1u);
  EXPECT_EQ(d.rules["big"].gained, 2u);
  EXPECT_EQ(d.rules["big"].base_hits, 3u);
  EXPECT_EQ(d.rules["big"].candidate_hits, 5u);
  EXPECT_EQ(d.rules["huge"].gained, 0u);
  EXPECT_EQ((d.samples[std::make_pair(0, 1)]), (std::vector<std::string>{"e2", "e3"}));
  std::string json = format_diff_json(d);
  EXPECT_NE(json.find(R"({"from":"allow","to":"review","count":2,"samples":["e2","e3"]})"), std::string::npos) << json;
}

TEST(ScoreMetrics, PrAucRocAucAndThresholdsWithTies) {
  // Scores 0.9(+) 0.8(-) 0.8(+) 0.3(-) 0.1(+): the tie at 0.8 is one step.
  std::vector<ScoredLabel> rows = {{0.9, true}, {0.8, false}, {0.8, true}, {0.3, false}, {0.1, true}};
  // AP = 1/3 * 1/1 + 1/3 * 2/3 + 1/3 * 3/5
  EXPECT_NEAR(pr_auc(rows), (1.0 + 2.0 / 3 + 3.0 / 5) / 3, 1e-12);
  // Pairs (+,-): 3 x 2 = 6; ordered right: (0.9 > both) 2, (0.8+ vs 0.8-) 0.5, (0.8+ > 0.3) 1, (0.1 vs both) 0
  EXPECT_NEAR(roc_auc(rows), 3.5 / 6, 1e-12);
  ThresholdFigures f = at_threshold(rows, 0.8);
  EXPECT_EQ(f.flagged, 3u);
  EXPECT_EQ(f.true_positives, 2u);
  EXPECT_NEAR(f.recall, 2.0 / 3, 1e-12);
  std::vector<ScoredLabel> none = {{0.5, false}};
  EXPECT_EQ(pr_auc(none), 0.0);
}

TEST(Backtest, EachModelsPrAucAndItsRulesThresholds) {
  const char* yaml = R"(models:
  - name: m
    file: m.json
    inputs: [a, b, c, d]
rules:
  - name: risky
    when: m >= 0.7
    reason: risky
  - name: very_risky
    when: 0.95 <= m
    reason: very
)";
  std::string model = fraud::testing::model_fixture("logistic.json");
  PackLoadOptions o;
  o.extra_fields = {"is_fraud"};
  auto r = compile_pack(
      {{"p.yaml", yaml}}, [&](const std::string&) -> FileText { return std::optional<std::string>(model); }, o);
  ASSERT_TRUE(r.ok()) << r.diagnostics.to_text();
  EXPECT_EQ(model_thresholds(*r.rules, 0), (std::vector<double>{0.7, 0.95}));
  std::string lines;
  for (int i = 0; i < 40; ++i) {
    double a = (i % 10) * 0.3 - 1;
    lines += "{\"event_id\":\"e" + std::to_string(i) + "\",\"event_type\":\"t\",\"ts\":" + std::to_string(i) +
             ",\"a\":" + std::to_string(a) + ",\"b\":0.5,\"is_fraud\":" + (a > 0.8 ? "1" : "0") + "}\n";
  }
  std::istringstream in(lines);
  std::ostringstream errors;
  MemoryFeatureStore store;
  ReplayOptions ro;
  ro.label_slot = r.rules->fields.find("is_fraud");
  ReplayStats s = replay_events(*r.rules, store, in, nullptr, errors, ro);
  ASSERT_EQ(s.model_scores.size(), 1u);
  EXPECT_EQ(s.model_scores[0].size(), 40u) << "every labelled event the model selects is scored";
  std::string table = format_replay_table(*r.rules, s);
  EXPECT_NE(table.find("MODEL: m"), std::string::npos) << table;
  EXPECT_NE(table.find("PR-AUC"), std::string::npos) << table;
  EXPECT_NE(table.find("m >= 0.7000"), std::string::npos) << table;
  EXPECT_NE(table.find("m >= 0.9500"), std::string::npos) << table;
}

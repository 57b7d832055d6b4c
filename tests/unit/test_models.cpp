// Models in the pack (RULES.md "Models"): a model's name reads as its score
// in rules, scores equal python3-xgboost's predictions for the same inputs
// (fixture rows fed as events: missing fields, booleans), explanations and
// the verdict's `models`, read guards, versioning, and every load error at
// its file:line:col.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "model_fixtures.h"
#include "pack_fixture.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

std::string fixture(const std::string& name) { return model_fixture(name); }

// A pack over the fixture model: inputs a, b, c and the boolean `flag`.
const char* kPack = R"(models:
  - name: risk
    file: models/risk.json
    inputs: [a, b, c, flag]
    explain: 2
rules:
  - name: risky
    when: risk >= 0.5
    score: 60
    reason: "risk {risk}: {explain(risk)}"
)";

PackLoadResult load(const std::string& yaml, const std::string& model_text = fixture("logistic.json"),
                    const PackLoadOptions& options = {}) {
  return compile_pack(
      {{"pack.yaml", yaml}},
      [model_text](const std::string& name) -> FileText {
        if (name == "models/risk.json") return std::optional<std::string>(model_text);
        return std::optional<std::string>();
      },
      options);
}

std::shared_ptr<const RuleSet> load_ok(const std::string& yaml) {
  PackLoadResult r = load(yaml);
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
  return r.rules;
}

std::vector<std::string> errors(const PackLoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics.items()) {
    if (d.severity == Severity::kError) {
      out.push_back(std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col) + " " + d.code);
    }
  }
  return out;
}

std::string event_of(const std::vector<double>& row, std::size_t k) {
  std::string e = "{\"event_id\":\"e" + std::to_string(k) +
                  "\",\"event_type\":\"t\",\"ts\":" + std::to_string(1'700'000'000'000 + k);
  const char* names[] = {"a", "b", "c", "flag"};
  for (std::size_t f = 0; f < 4; ++f) {
    if (std::isnan(row[f])) continue;  // a missing field
    e += std::string(",\"") + names[f] + "\":";
    if (f == 3) {
      e += row[f] != 0 ? "true" : "false";  // the boolean input as a JSON boolean
    } else {
      char buf[32];
      e.append(buf, std::to_chars(buf, buf + sizeof buf, row[f]).ptr);
    }
  }
  return e + "}";
}

double decimal_of(float f) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, f).ptr;
  double d = 0;
  std::from_chars(buf, end, d);
  return d;
}

}  // namespace

TEST(Models, ScoresEqualPythonXgboostForTheSameInputs) {
  auto rules = load_ok(kPack);
  ASSERT_TRUE(rules);
  simdjson::dom::parser parser;
  simdjson::padded_string text(fixture("logistic.expected.json"));
  simdjson::dom::element doc = parser.parse(text);
  std::vector<std::vector<double>> rows;
  for (auto row : doc["rows"].get_array()) {
    rows.emplace_back();
    for (auto v : row.get_array()) {
      double d;
      rows.back().push_back(v.get_double().get(d) ? std::nan("") : d);
    }
  }
  std::vector<double> expected;
  for (auto v : doc["predictions"].get_array()) expected.push_back(decimal_of(static_cast<float>(double(v))));
  Runner runner(rules);
  std::size_t matched = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (!std::isnan(rows[k][3]) && rows[k][3] != 0 && rows[k][3] != 1) continue;
    Outcome o = runner.run(event_of(rows[k], k));
    bool hit = expected[k] >= 0.5;
    EXPECT_EQ(o.verdict.hit_count, hit ? 1u : 0u) << k;
    if (hit) ++matched;
    ASSERT_EQ(o.verdict.model_count, hit ? 1u : 0u);
    if (!hit) {
      EXPECT_NE(o.json.find(",\"models\":{},"), std::string::npos) << o.json;
      continue;
    }
    EXPECT_EQ(o.verdict.models[0].score, expected[k]) << "row " << k;
    // The verdict shows the score, the top 2 inputs, and the reason their text.
    char buf[32];
    std::string score(buf, std::to_chars(buf, buf + sizeof buf, expected[k]).ptr);
    EXPECT_NE(o.json.find("\"models\":{\"risk\":{\"score\":" + score + ",\"top\":[{\"input\":"), std::string::npos)
        << o.json;
    ASSERT_EQ(o.verdict.models[0].top.size(), 2u);
    EXPECT_GE(o.verdict.models[0].top[0].amount, o.verdict.models[0].top[1].amount);
    EXPECT_NE(o.verdict.hits[0].reason.find("risk " + score + ": "), std::string::npos) << o.verdict.hits[0].reason;
    EXPECT_NE(o.verdict.hits[0].reason.find(" (+"), std::string::npos) << o.verdict.hits[0].reason;
  }
  EXPECT_GT(matched, 5u);
}

TEST(Models, ExplainOrderIsLargestFirstTiesByInputOrderAndMatchesTheContributions) {
  auto rules = load_ok(kPack);
  Runner runner(rules);
  // Every input missing except a: the contributions of b, c and flag come
  // from default directions only.
  Outcome o = runner.run(R"({"event_id":"x","event_type":"t","ts":1,"a":3})");
  ASSERT_EQ(o.verdict.model_count, 1u);
  const ModelOutput& m = o.verdict.models[0];
  std::vector<float> row = {3, std::nanf(""), std::nanf(""), std::nanf("")}, contribs(5);
  rules->models[0].trees->contributions(row, contribs);
  std::vector<std::uint32_t> order = {0, 1, 2, 3};
  std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) { return contribs[x] > contribs[y]; });
  ASSERT_EQ(m.top.size(), 2u);
  EXPECT_EQ(m.top[0].input, order[0]);
  EXPECT_EQ(m.top[1].input, order[1]);
  EXPECT_EQ(m.top[0].amount, contribs[order[0]]);
  EXPECT_EQ(m.top[0].value, order[0] == 0 ? 3.0f : m.top[0].value);
}

TEST(Models, ScoredOnlyWhereARuleCouldReadTheScore) {
  auto rules = load_ok(R"(models:
  - name: risk
    file: models/risk.json
    where: not (channel == "branch")
    inputs: [a, b, c, flag]
rules:
  - name: big_and_risky
    when: event_type == "loan" and amount > 1000 and risk >= 0.0
    score: 10
    reason: "risk {risk}"
)");
  ASSERT_TRUE(rules);
  MemoryFeatureStore store;
  BatchRunner runner(store);
  std::vector<std::string> lines = {
      R"({"event_id":"1","event_type":"loan","ts":1,"amount":5000,"a":1})",                     // scored
      R"({"event_id":"2","event_type":"loan","ts":1,"amount":50,"a":1})",                       // guard false
      R"({"event_id":"3","event_type":"payment","ts":1,"amount":5000,"a":1})",                  // no rule reads it
      R"({"event_id":"4","event_type":"loan","ts":1,"amount":5000,"a":1,"channel":"branch"})",  // where false
  };
  auto records = BatchRunner::records_of(lines);
  const PipelineBatch& b = runner.run(rules, records);
  ASSERT_EQ(b.verdicts.size(), 4u);
  EXPECT_TRUE(b.processor.model_scores_of(0)[0].is_number());
  EXPECT_TRUE(b.processor.model_scores_of(1)[0].is_null());
  EXPECT_TRUE(b.processor.model_scores_of(2)[0].is_null());
  EXPECT_TRUE(b.processor.model_scores_of(3)[0].is_null());
  EXPECT_EQ(b.verdicts[0].hit_count, 1u);
  EXPECT_EQ(b.verdicts[3].hit_count, 0u) << "an unscored model reads null, and null >= 0 is false";
}

TEST(Models, TheModelFileIsPartOfTheVersion) {
  std::string model = fixture("logistic.json");
  PackLoadResult a = load(kPack, model);
  ASSERT_TRUE(a.ok());
  std::string changed = model;
  changed.replace(changed.find("\"split_conditions\":[") + 20, 1, "1");  // a different threshold
  PackLoadResult b = load(kPack, changed);
  ASSERT_TRUE(b.ok()) << b.diagnostics.to_text();
  EXPECT_NE(a.rules->version, b.rules->version);
  EXPECT_EQ(a.rules->version, load(kPack, model).rules->version);
  bool listed = false;
  for (const auto& f : a.rules->files) listed |= f.path == "model:models/risk.json";
  EXPECT_TRUE(listed);
}

TEST(Models, LoadErrorsAreNamedAtTheirPosition) {
  const std::string good = fixture("logistic.json");
  // The `file:` key of the model is at 3:11.
  EXPECT_EQ(errors(load(kPack, good.substr(0, good.size() / 3))), (std::vector<std::string>{"3:11 E602"}));
  EXPECT_EQ(errors(load(kPack, "not json at all")), (std::vector<std::string>{"3:11 E602"}));
  EXPECT_EQ(errors(load(kPack, fixture("softprob.json"))), (std::vector<std::string>{"3:11 E603"}));
  std::string pack = kPack;
  std::string missing_file = pack;
  missing_file.replace(missing_file.find("models/risk.json"), 16, "models/none.json");
  EXPECT_EQ(errors(load(missing_file)), (std::vector<std::string>{"3:11 E601"}));
  std::string three_inputs = pack;
  three_inputs.replace(three_inputs.find("[a, b, c, flag]"), 15, "[a, b, c]");
  EXPECT_EQ(errors(load(three_inputs)), (std::vector<std::string>{"3:11 E604"}));
  PackLoadResult r = load(three_inputs);
  EXPECT_NE(r.diagnostics.to_text().find("has 4 features, but 'inputs' lists 3"), std::string::npos)
      << r.diagnostics.to_text();
  std::string pack_with_feature = R"(features:
  - name: n_24h
    agg: count
    by: a
    window: 24h
models:
  - name: risk
    file: models/risk.json
    where: n_24h > 1
    inputs: [a, b, risk, flag]
    explain: 9
    explain_method: exact
rules:
  - name: r
    when: explain(risk) == "x"
)";
  EXPECT_EQ(errors(load(pack_with_feature)),
            (std::vector<std::string>{"9:12 E309", "10:20 E606", "11:14 E607", "12:21 E607", "15:11 E608"}));
  // An input may be any expression; a feature is fine there.
  std::string fine = pack_with_feature;
  fine.replace(fine.find("    where: n_24h > 1\n"), 21, "");
  fine.replace(fine.find("risk, flag"), 10, "n_24h * 2, channel == \"app\"");
  fine.replace(fine.find("    explain: 9\n    explain_method: exact\n"), 41, "    explain_method: shap\n");
  fine.replace(fine.find("explain(risk) == \"x\""), 20, "risk > 0.5");
  EXPECT_TRUE(load(fine).ok()) << load(fine).diagnostics.to_text();
}

TEST(Models, TheModelBeingTrainedNeedsNoFile) {
  std::string pack = kPack;
  pack.replace(pack.find("models/risk.json"), 16, "models/new.json");
  EXPECT_FALSE(load(pack).ok());
  PackLoadResult r = load(pack, "", PackLoadOptions{.train_model = "risk"});
  ASSERT_TRUE(r.ok()) << r.diagnostics.to_text();
  EXPECT_EQ(r.rules->models[0].trees, nullptr);
  Runner runner(r.rules);
  Outcome o = runner.run(R"({"event_id":"x","event_type":"t","ts":1,"a":3})");
  EXPECT_EQ(o.verdict.model_count, 0u);
  EXPECT_EQ(o.verdict.hit_count, 0u);
}

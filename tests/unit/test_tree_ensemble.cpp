// The compiled trees (TreeEnsemble) against XGBoost itself: predictions,
// margins and approximate contributions of python3-xgboost for the same model
// files and rows (tests/data/models, made once by make_fixtures.py), and
// libxgboost's C API on the same rows; missing values and a boolean input
// included. Broken and unsupported model files are errors, never crashes.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/model/tree_ensemble.h"
#include "engine/model/xgboost_booster.h"
#include "model_fixtures.h"

using namespace fraud;

namespace {

std::string read(const std::string& name) { return fraud::testing::model_fixture(name); }

TreeEnsemble ensemble(const std::string& json) {
  auto r = TreeEnsemble::from_xgboost_json(json);
  if (auto* e = std::get_if<std::string>(&r)) ADD_FAILURE() << *e;
  return std::get<TreeEnsemble>(std::move(r));
}

float as_float(simdjson::dom::element e) {
  double d;
  return e.get_double().get(d) ? std::nanf("") : static_cast<float>(d);
}

struct Expected {
  std::vector<float> rows;  // row-major
  std::vector<float> predictions, margins, approx, exact;
  std::size_t n = 0;
};

Expected expected(const std::string& name) {
  static simdjson::dom::parser parser;
  simdjson::padded_string text(read(name + ".expected.json"));
  simdjson::dom::element doc = parser.parse(text);
  Expected x;
  for (auto row : doc["rows"].get_array()) {
    ++x.n;
    for (auto v : row.get_array()) x.rows.push_back(as_float(v));
  }
  for (auto v : doc["predictions"].get_array()) x.predictions.push_back(as_float(v));
  for (auto v : doc["margins"].get_array()) x.margins.push_back(as_float(v));
  for (auto row : doc["approx_contributions"].get_array()) {
    for (auto v : row.get_array()) x.approx.push_back(as_float(v));
  }
  for (auto row : doc["contributions"].get_array()) {
    for (auto v : row.get_array()) x.exact.push_back(as_float(v));
  }
  return x;
}

void same_floats(const std::vector<float>& want, const std::vector<float>& got, const char* what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i], got[i]) << what << " #" << i;  // bit for bit, not approximately
  }
}

}  // namespace

class AgainstPythonXgboost : public ::testing::TestWithParam<const char*> {};

TEST_P(AgainstPythonXgboost, PredictionsMarginsAndContributionsMatchExactly) {
  std::string model = read(std::string(GetParam()) + ".json");
  TreeEnsemble m = ensemble(model);
  Expected x = expected(GetParam());
  ASSERT_EQ(m.num_features(), 4u);
  ASSERT_EQ(x.rows.size(), x.n * 4);
  std::vector<float> out(x.n);
  m.predict(x.rows, out);
  same_floats(x.predictions, out, "prediction");
  m.predict_margin(x.rows, out);
  same_floats(x.margins, out, "margin");
  std::vector<float> contribs(x.n * 5);
  for (std::size_t r = 0; r < x.n; ++r) {
    m.contributions(std::span<const float>(x.rows).subspan(r * 4, 4), std::span<float>(contribs).subspan(r * 5, 5));
  }
  same_floats(x.approx, contribs, "approximate contribution");

  // libxgboost's C API agrees on the same rows, exact SHAP included.
  auto loaded = XgbBooster::from_json(model);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<XgbBooster>>(loaded)) << std::get<std::string>(loaded);
  auto& booster = *std::get<std::unique_ptr<XgbBooster>>(loaded);
  EXPECT_EQ(booster.num_features(), 4u);
  auto values = booster.predict(x.rows, x.n, XgbBooster::Output::kValue);
  same_floats(x.predictions, std::get<std::vector<float>>(values), "C API prediction");
  auto shap = booster.predict(x.rows, x.n, XgbBooster::Output::kContributions);
  same_floats(x.exact, std::get<std::vector<float>>(shap), "C API exact contribution");
}

INSTANTIATE_TEST_SUITE_P(Models, AgainstPythonXgboost, ::testing::Values("logistic", "squarederror"));

TEST(TreeEnsemble, MatchesTheCApiOnRandomRowsOfATrainedModel) {
  // A deeper model trained here through the C API, on many random rows with
  // missing values (libxgboost refuses infinities; the engine reads them as
  // missing before they reach a model).
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const std::size_t nf = 6, n = 4000;
  std::vector<float> rows(n * nf), labels(n);
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t f = 0; f < nf; ++f) rows[r * nf + f] = rng() % 9 == 0 ? std::nanf("") : normal(rng);
    labels[r] = (rows[r * nf] > 0.3f) != (rows[r * nf + 1] * rows[r * nf + 2] > 0.2f) ? 1.0f : 0.0f;
  }
  XgbBooster::TrainParams params;
  params.rounds = 60;
  params.max_depth = 7;
  params.learning_rate = 0.2;
  params.threads = 1;
  auto trained = XgbBooster::train(rows, labels, nf, params);
  ASSERT_TRUE(std::holds_alternative<std::unique_ptr<XgbBooster>>(trained)) << std::get<std::string>(trained);
  auto& booster = *std::get<std::unique_ptr<XgbBooster>>(trained);
  TreeEnsemble m = ensemble(booster.to_json());
  EXPECT_EQ(m.num_trees(), 60u);
  // Rows on a coarse grid, so some values sit exactly on split conditions.
  for (std::size_t r = 0; r < 400; ++r) {
    for (std::size_t f = 0; f < nf; ++f) rows[r * nf + f] = std::round(rows[r * nf + f] * 4) / 4;
  }
  std::vector<float> mine(n);
  m.predict(rows, mine);
  auto theirs = booster.predict(rows, n, XgbBooster::Output::kValue);
  ASSERT_TRUE(std::holds_alternative<std::vector<float>>(theirs)) << std::get<std::string>(theirs);
  same_floats(std::get<std::vector<float>>(theirs), mine, "value");
  std::vector<float> contribs(n * (nf + 1));
  for (std::size_t r = 0; r < n; ++r) {
    m.contributions(std::span<const float>(rows).subspan(r * nf, nf),
                    std::span<float>(contribs).subspan(r * (nf + 1), nf + 1));
  }
  same_floats(std::get<std::vector<float>>(booster.predict(rows, n, XgbBooster::Output::kApproxContributions)),
              contribs, "approximate contribution");
}

TEST(TreeEnsemble, BrokenAndUnsupportedModelsAreErrors) {
  std::string good = read("logistic.json");
  auto error_of = [](std::string_view json) {
    auto r = TreeEnsemble::from_xgboost_json(json);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string();
  };
  EXPECT_EQ(error_of(good), "");
  EXPECT_NE(error_of(good.substr(0, good.size() / 2)).find("not a JSON document"), std::string::npos);
  EXPECT_NE(error_of("rules:\n  - name: x\n").find("not a JSON document"), std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("not an object"), std::string::npos);
  EXPECT_NE(error_of(read("softprob.json")).find("objective 'multi:softprob' is not supported"), std::string::npos);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    auto p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    return s.replace(p, from.size(), to);
  };
  EXPECT_NE(error_of(replaced("\"left_children\":[1,", "\"left_children\":[0,")).find("two parents"),
            std::string::npos);
  EXPECT_NE(error_of(replaced("\"left_children\":[1,", "\"left_children\":[99999,")).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of(replaced("\"split_indices\":[", "\"split_indices\":[70,")).find("entries for"), std::string::npos);
  EXPECT_NE(error_of(replaced("\"name\":\"gbtree\"", "\"name\":\"dart\"")).find("gbtree only"), std::string::npos);
  EXPECT_NE(error_of(replaced("\"num_class\":\"0\",\"num_feature\":\"4\"", "\"num_class\":\"0\",\"num_feature\":\"0\""))
                .find("num_feature"),
            std::string::npos);
  // libxgboost refuses what is not a model, with its message.
  auto loaded = XgbBooster::from_json("{\"learner\": 7}");
  ASSERT_TRUE(std::holds_alternative<std::string>(loaded));
  EXPECT_NE(std::get<std::string>(loaded).find("cannot load the model"), std::string::npos);
}

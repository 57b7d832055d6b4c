// Scoring cost of gradient-boosted tree models per scored event.
//
// Hypothesis: the engine's compiled trees (TreeEnsemble) score 200 trees of
// depth 6 in at most 1.5 us per row on one core here, in batches as the
// evaluate stage calls them, and a single row costs about as much per row
// as a batch (no per-call overhead); XGBoost 1.7's own predictor (C API,
// one thread) costs ~3.5 us per row in batches of 2,000 and ~200 us for one
// row. Per-path explanations cost one more walk per tree.
// Scenarios: models of 100-500 trees, depth 4-8, trained here on random rows
// (12 inputs, 10% missing); batches of 1 to 4,000 rows; the shipped pack's
// model on its own inputs. Figures: time per row (ns) in `per_row_ns`.
#include <benchmark/benchmark.h>

#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "engine/model/tree_ensemble.h"
#include "engine/model/xgboost_booster.h"

using namespace fraud;

namespace {

constexpr std::size_t kInputs = 12;

std::vector<float> random_rows(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> rows(n * kInputs);
  for (auto& x : rows) x = rng() % 10 == 0 ? std::nanf("") : normal(rng);
  return rows;
}

struct Model {
  std::unique_ptr<XgbBooster> booster;
  std::unique_ptr<TreeEnsemble> trees;
};

// A model of `trees` trees of depth `depth`, trained once per shape.
Model& model(int trees, int depth) {
  // Never destroyed: boosters must not outlive libxgboost's own statics.
  static auto* cache = new std::map<std::pair<int, int>, Model>;
  auto& m = (*cache)[{trees, depth}];
  if (m.trees) return m;
  const std::size_t n = 20'000;
  std::vector<float> rows = random_rows(n, 1), labels(n);
  for (std::size_t r = 0; r < n; ++r) {
    const float* x = rows.data() + r * kInputs;
    labels[r] = (x[0] > 0.5f) != (x[1] * x[2] > 0.3f) || x[3] + x[4] > 1.8f ? 1.0f : 0.0f;
  }
  XgbBooster::TrainParams p;
  p.rounds = trees;
  p.max_depth = depth;
  p.learning_rate = 0.1;
  auto trained = XgbBooster::train(rows, labels, kInputs, p);
  m.booster = std::move(std::get<std::unique_ptr<XgbBooster>>(trained));
  m.trees =
      std::make_unique<TreeEnsemble>(std::get<TreeEnsemble>(TreeEnsemble::from_xgboost_json(m.booster->to_json())));
  return m;
}

void per_row(benchmark::State& state, std::size_t rows_per_call) {
  // Rows per second inverted, in ns: the cost of one scored event.
  state.counters["per_row_ns"] = benchmark::Counter(static_cast<double>(state.iterations() * rows_per_call) / 1e9,
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * rows_per_call));
}

// Args: trees, depth, rows per call.
void BM_Compiled(benchmark::State& state) {
  Model& m = model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const std::size_t n = static_cast<std::size_t>(state.range(2));
  std::vector<float> rows = random_rows(n, 2), out(n);
  for (auto _ : state) {
    m.trees->predict(rows, out);
    benchmark::DoNotOptimize(out.data());
  }
  per_row(state, n);
}

void BM_XgboostPredictor(benchmark::State& state) {
  Model& m = model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  const std::size_t n = static_cast<std::size_t>(state.range(2));
  std::vector<float> rows = random_rows(n, 2);
  for (auto _ : state) {
    auto out = m.booster->predict(rows, n, XgbBooster::Output::kValue);
    benchmark::DoNotOptimize(out);
  }
  per_row(state, n);
}

void BM_CompiledExplain(benchmark::State& state) {
  Model& m = model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<float> rows = random_rows(256, 3), contribs(kInputs + 1);
  std::size_t r = 0;
  for (auto _ : state) {
    m.trees->contributions(std::span<const float>(rows).subspan((r++ % 256) * kInputs, kInputs), contribs);
    benchmark::DoNotOptimize(contribs.data());
  }
  per_row(state, 1);
}

void BM_XgboostExactShap(benchmark::State& state) {
  Model& m = model(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  std::vector<float> rows = random_rows(1, 3);
  for (auto _ : state) {
    auto out = m.booster->predict(rows, 1, XgbBooster::Output::kContributions);
    benchmark::DoNotOptimize(out);
  }
  per_row(state, 1);
}

// The shipped pack's model (rules/application_risk.model.json).
void BM_ShippedModel(benchmark::State& state) {
  static std::unique_ptr<TreeEnsemble> shipped = [] {
    std::ifstream in(std::string(FRAUD_SOURCE_DIR) + "/rules/application_risk.model.json");
    std::stringstream s;
    s << in.rdbuf();
    return std::make_unique<TreeEnsemble>(std::get<TreeEnsemble>(TreeEnsemble::from_xgboost_json(s.str())));
  }();
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<float> rows(n * shipped->num_features());
  std::mt19937 rng(4);
  for (auto& x : rows) x = static_cast<float>(rng() % 1000);
  std::vector<float> out(n);
  for (auto _ : state) {
    shipped->predict(rows, out);
    benchmark::DoNotOptimize(out.data());
  }
  per_row(state, n);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int trees : {100, 200, 500}) {
    for (int depth : {4, 6, 8}) {
      for (int rows : {1, 64, 2000, 4000}) b->Args({trees, depth, rows});
    }
  }
}

}  // namespace

BENCHMARK(BM_Compiled)->Apply(shapes)->ArgNames({"trees", "depth", "rows"});
BENCHMARK(BM_XgboostPredictor)
    ->ArgNames({"trees", "depth", "rows"})
    ->Args({200, 6, 1})
    ->Args({200, 6, 2000})
    ->Args({500, 8, 2000});
BENCHMARK(BM_CompiledExplain)->ArgNames({"trees", "depth"})->Args({200, 6})->Args({500, 8});
BENCHMARK(BM_XgboostExactShap)->ArgNames({"trees", "depth"})->Args({200, 6});
BENCHMARK(BM_ShippedModel)->ArgName("rows")->Arg(1)->Arg(2000);

BENCHMARK_MAIN();

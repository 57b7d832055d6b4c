// ModelScorer: the model scores of one batch (RULES.md "Models"), and the
// explanations of the events whose verdicts show them.
//
// score() runs after the store answered: for each model, the events that
// need its score (a rule of the event's type reads the model, one of that
// rule's model-free conjuncts' guards holds, and the model's `where` holds)
// get their input row computed from the event and its features; then one
// predict call per model scores all of them. Inputs are 32-bit floats:
// numbers as themselves, true/false as 1/0, anything else (null, strings,
// NaN, infinities) missing. A score reads, in rules and verdicts, as the
// shortest decimal that is the model's float, so `fraud_model >= 0.9` holds
// for the score the verdict prints as 0.9.
//
// explain() fills a verdict's model outputs for the models its matched rules
// read: the score and, with `explain: N`, the N largest contributions
// (largest first, ties by input order), per-path by default, exact TreeSHAP
// with `explain_method: shap`. It may run for several events at once on
// different threads, each with its own scratch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "engine/rule_set.h"

namespace fraud {

// A value as a model input: numbers as 32-bit floats, true/false as 1/0,
// anything else (and NaN, infinities) missing (NaN).
float model_input(const Value& v);

struct Contribution {
  std::uint32_t input = 0;  // index into ModelDef::inputs
  float value = 0;          // the input as the model saw it (NaN: missing)
  float amount = 0;         // margin units
};

struct ModelOutput {
  std::uint32_t model = 0;
  double score = 0;
  std::vector<Contribution> top;  // with explain: largest first
  std::string text;               // explain(model): "amount=490000 (+0.63), ..."
};

class ModelScorer {
 public:
  // `features_of(i)`: event i's feature values after the store applied.
  template <typename FeaturesOf>
  void score(const RuleSet& rules, std::span<const Event* const> events, std::span<const TypePlan* const> plans,
             FeaturesOf&& features_of, EvalScratch& scratch) {
    begin(rules, events.size());
    for (std::size_t i = 0; i < events.size(); ++i) add_rows(rules, i, *events[i], *plans[i], features_of(i), scratch);
    predict(rules);
  }
  // No scores for this batch (features unavailable: failure policies).
  void none(const RuleSet& rules, std::size_t events) { begin(rules, events); }

  // Scores of event i by model id (null: not scored).
  std::span<const Value> scores_of(std::size_t i) const { return {values_.data() + i * model_count_, model_count_}; }

  // The scores model `m` gave in this batch (as floats, in event order).
  std::span<const float> scores(std::size_t m) const {
    return m < batch_scores_.size() ? std::span<const float>(batch_scores_[m]) : std::span<const float>();
  }

  // Appends to `outputs` (from index `count`, reusing entries) the outputs of
  // the scored models among `models` (model ids) for event i; returns the new count.
  std::size_t explain(const RuleSet& rules, std::size_t i, std::span<const std::uint32_t> models,
                      std::vector<ModelOutput>& outputs, std::size_t count, std::vector<float>& scratch) const;

 private:
  void begin(const RuleSet& rules, std::size_t events);
  void add_rows(const RuleSet& rules, std::size_t i, const Event& event, const TypePlan& plan,
                std::span<const Value> features, EvalScratch& scratch);
  void predict(const RuleSet& rules);

  std::size_t model_count_ = 0;
  std::vector<Value> values_;                          // events x models
  std::vector<std::int32_t> row_of_;                   // events x models: row in rows_[model], -1: not scored
  std::vector<std::vector<float>> rows_;               // per model: its rows, row-major
  std::vector<std::vector<std::uint32_t>> events_of_;  // per model: the event of each row
  std::vector<std::vector<float>> batch_scores_;       // per model
};

// Appends `,"models":{...}` (RULES.md "Verdict") for a verdict's outputs.
void append_model_outputs(const RuleSet& rules, std::span<const ModelOutput> outputs, std::string& out);

}  // namespace fraud

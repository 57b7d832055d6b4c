#include "engine/model_scorer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace fraud {

float model_input(const Value& v) {
  if (v.is_number()) {
    float f = static_cast<float>(v.number);
    return std::isfinite(f) ? f : std::nanf("");
  }
  if (v.kind == ValueKind::kBool) return v.boolean ? 1.0f : 0.0f;
  return std::nanf("");
}

namespace {

// The double whose shortest decimal is the float's (0.9f reads as 0.9).
double as_decimal(float f) {
  char buf[32];
  auto end = std::to_chars(buf, buf + sizeof buf, f).ptr;
  double d = f;
  std::from_chars(buf, end, d);
  return d;
}

void append_float(std::string& out, float f) {
  if (std::isnan(f)) {
    out.append("null");
    return;
  }
  append_number(out, as_decimal(f));
}

}  // namespace

void ModelScorer::begin(const RuleSet& rules, std::size_t events) {
  model_count_ = rules.models.size();
  values_.assign(events * model_count_, Value::null());
  row_of_.assign(events * model_count_, -1);
  rows_.resize(model_count_);
  events_of_.resize(model_count_);
  for (auto& r : rows_) r.clear();
  for (auto& e : events_of_) e.clear();
  batch_scores_.resize(model_count_);
  for (auto& s : batch_scores_) s.clear();
}

void ModelScorer::add_rows(const RuleSet& rules, std::size_t i, const Event& event, const TypePlan& plan,
                           std::span<const Value> features, EvalScratch& scratch) {
  if (plan.models.empty()) return;
  scratch.reset();
  EvalContext ctx{rules, event, features, scratch};
  auto holds_node = [&](std::uint32_t node) { return holds(ctx, node); };
  for (std::size_t k = 0; k < plan.models.size(); ++k) {
    const std::uint32_t m = plan.models[k];
    const ModelDef& model = rules.models[m];
    if (!model.trees) continue;  // being trained
    if (!guards_hold(plan.model_guards[k], holds_node)) continue;
    if (model.where_node && !holds(ctx, *model.where_node)) continue;
    std::vector<float>& rows = rows_[m];
    row_of_[i * model_count_ + m] = static_cast<std::int32_t>(events_of_[m].size());
    events_of_[m].push_back(static_cast<std::uint32_t>(i));
    for (const auto& in : model.inputs) rows.push_back(model_input(evaluate(ctx, in.node)));
  }
}

void ModelScorer::predict(const RuleSet& rules) {
  for (std::size_t m = 0; m < model_count_; ++m) {
    const std::vector<std::uint32_t>& events = events_of_[m];
    if (events.empty()) continue;
    std::vector<float>& scores = batch_scores_[m];
    scores.resize(events.size());
    rules.models[m].trees->predict(rows_[m], scores);
    for (std::size_t r = 0; r < events.size(); ++r) {
      values_[events[r] * model_count_ + m] = Value::of_number(as_decimal(scores[r]));
    }
  }
}

std::size_t ModelScorer::explain(const RuleSet& rules, std::size_t i, std::span<const std::uint32_t> models,
                                 std::vector<ModelOutput>& outputs, std::size_t count,
                                 std::vector<float>& scratch) const {
  for (std::uint32_t m : models) {
    std::int32_t row = row_of_[i * model_count_ + m];
    if (row < 0) continue;
    bool listed = false;
    for (std::size_t k = 0; k < count; ++k) listed |= outputs[k].model == m;
    if (listed) continue;
    if (outputs.size() <= count) outputs.emplace_back();
    ModelOutput& out = outputs[count++];
    const ModelDef& model = rules.models[m];
    out.model = m;
    out.score = values_[i * model_count_ + m].number;
    out.top.clear();
    out.text.clear();
    if (model.explain == 0) continue;
    const std::size_t nf = model.inputs.size();
    std::span<const float> inputs(rows_[m].data() + static_cast<std::size_t>(row) * nf, nf);
    scratch.assign(nf + 1, 0.0f);
    if (model.shap) {
      std::lock_guard lock(model.shap->mu);
      auto exact = model.shap->booster->predict(inputs, 1, XgbBooster::Output::kContributions);
      if (auto* v = std::get_if<std::vector<float>>(&exact); v && v->size() == nf + 1) scratch = *v;
    } else {
      model.trees->contributions(inputs, scratch);
    }
    for (std::uint32_t k = 0; k < nf; ++k) out.top.push_back({k, inputs[k], scratch[k]});
    std::stable_sort(out.top.begin(), out.top.end(),
                     [](const Contribution& a, const Contribution& b) { return a.amount > b.amount; });
    out.top.resize(std::min<std::size_t>(model.explain, nf));
    for (const Contribution& c : out.top) {
      if (!out.text.empty()) out.text.append(", ");
      out.text.append(model.inputs[c.input].text);
      out.text.push_back('=');
      append_float(out.text, c.value);
      char buf[32];
      std::snprintf(buf, sizeof buf, " (%+.2f)", static_cast<double>(c.amount));
      out.text.append(buf);
    }
  }
  return count;
}

void append_model_outputs(const RuleSet& rules, std::span<const ModelOutput> outputs, std::string& out) {
  out.append(",\"models\":{");
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const ModelOutput& o = outputs[k];
    const ModelDef& model = rules.models[o.model];
    if (k) out.push_back(',');
    append_json_string(out, model.name);
    out.append(":{\"score\":");
    append_number(out, o.score);
    if (model.explain > 0) {
      out.append(",\"top\":[");
      for (std::size_t t = 0; t < o.top.size(); ++t) {
        const Contribution& c = o.top[t];
        if (t) out.push_back(',');
        out.append("{\"input\":");
        append_json_string(out, model.inputs[c.input].text);
        out.append(",\"value\":");
        append_float(out, c.value);
        out.append(",\"contribution\":");
        append_float(out, c.amount);
        out.push_back('}');
      }
      out.push_back(']');
    }
    out.push_back('}');
  }
  out.push_back('}');
}

}  // namespace fraud

// Evaluator: computes compiled expressions of a RuleSet for one event.
//
// Pure and allocation-free in steady state: strings made by functions
// (`lower`, `upper`) live in an EvalScratch owned by the calling thread and
// reset per event. Semantics are RULES.md's, including null handling:
// arithmetic with null or a non-number gives null, comparisons with null are
// false except `== null` / `!= null`, values of different kinds never compare.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/event.h"
#include "engine/rule_set.h"

namespace fraud {

// What explain(model) renders for one event: the model's explained inputs
// as text (see ModelOutput in model_scorer.h).
struct ExplainText {
  std::uint32_t model = 0;
  std::string_view text;
};

class EvalScratch {
 public:
  // Resets string storage; call once per event.
  void reset() { used_ = 0; }
  std::string& next_string();

  std::vector<float> floats;           // model contributions of one event
  std::vector<ExplainText> explained;  // the event's explain(model) texts

 private:
  std::vector<std::string> pool_;
  std::size_t used_ = 0;
};

struct EvalContext {
  const RuleSet& rules;
  const Event& event;
  std::span<const Value> features;  // indexed by feature id; unread ones are null
  EvalScratch& scratch;
  std::span<const Value> models = {};           // indexed by model id; unscored ones are null
  std::span<const ExplainText> explained = {};  // models explained for this event
};

Value evaluate(const EvalContext& ctx, std::uint32_t node);

// True iff the expression evaluates to `true`.
inline bool holds(const EvalContext& ctx, std::uint32_t node) { return evaluate(ctx, node).is_true(); }

// Appends the rendered reason of a rule ({placeholders} filled in).
void render_reason(const EvalContext& ctx, const RuleDef& rule, std::string& out);

// Earth great-circle distance in km (haversine, mean radius 6371 km).
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

}  // namespace fraud

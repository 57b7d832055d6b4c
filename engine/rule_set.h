// RuleSet: a compiled, immutable, indexed rule pack.
//
// Produced only by the PackLoader (pack_loader.h) after every check passed.
// Once built it never changes, so one `std::shared_ptr<const RuleSet>` is
// shared by all pipeline threads and swapped atomically on reload.
//
// Expressions are compiled into a flat node array (`nodes`); macros are
// compiled once and shared by every expression that names them. Rules and
// features are indexed by event type (Falco's evttype index): an event only
// evaluates the rules, and plans the feature operations, that can apply to
// its type.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/event.h"
#include "engine/model/tree_ensemble.h"
#include "engine/model/xgboost_booster.h"
#include "engine/value.h"

namespace fraud {

enum class Decision : std::uint8_t { kAllow = 0, kReview = 1, kDecline = 2 };
std::string_view decision_name(Decision d);
std::optional<Decision> parse_decision(std::string_view s);

enum class NodeOp : std::uint8_t {
  kConst,    // constant
  kField,    // index = field slot
  kFeature,  // index = feature id
  kNot,
  kAnd,
  kOr,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIsNull,   // `x == null`
  kNotNull,  // `x != null`
  kIn,       // args[0] in lists[index]
  kNotIn,
  kCall,   // function, args
  kModel,  // index = model id: the model's score for the event, or null
};

enum class Function : std::uint8_t {
  kExists,
  kLower,
  kUpper,
  kLen,
  kAbs,
  kMin,
  kMax,
  kStartsWith,
  kEndsWith,
  kContains,
  kHourOfDay,
  kGeoKm,
  kExplain,  // index = model id: the explained inputs as text (reason templates only)
};

struct Node {
  NodeOp op = NodeOp::kConst;
  Function function = Function::kExists;
  std::uint32_t index = 0;       // field slot, feature id or list id
  std::uint32_t args_begin = 0;  // into RuleSet::args
  std::uint32_t args_count = 0;
  Value constant;  // kConst; strings point into RuleSet::strings
};

// Membership set of a named list or a list literal, with `==` semantics:
// numbers by value, strings bytewise, booleans; null is never a member.
class ListSet {
 public:
  void add(const Value& v);
  bool contains(const Value& v) const;
  std::size_t size() const { return strings_.size() + numbers_.size() + (has_true_ ? 1 : 0) + (has_false_ ? 1 : 0); }
  // The string items, when the list holds only strings (event-type index).
  std::optional<std::vector<std::string>> only_strings() const;

 private:
  std::unordered_set<std::string, StringHash, std::equal_to<>> strings_;
  std::unordered_set<double> numbers_;
  bool has_true_ = false;
  bool has_false_ = false;
};

enum class Aggregation : std::uint8_t { kCount, kSum, kMin, kMax, kAvg, kDistinct };
std::string_view aggregation_name(Aggregation a);

struct FeatureDef {
  std::string name;
  Aggregation agg = Aggregation::kCount;
  std::optional<std::uint32_t> of_slot;  // absent for count
  std::vector<std::uint32_t> by_slots;   // entity key, one or more paths
  std::int64_t window_ms = 0;
  std::int64_t resolution_ms = 0;
  std::int64_t buckets() const { return window_ms / resolution_ms; }
  // L = ceil(max_lateness / resolution) (RULES.md "Late events"): an event
  // whose bucket is at most L behind its key's newest is exact; a key keeps
  // the buckets [newest - n - L + 1, newest], n = buckets().
  std::int64_t late_buckets = 0;
  std::int64_t kept_buckets() const { return buckets() + late_buckets; }
  std::optional<std::uint32_t> where_node;
  // `distinct` only: the most distinct values one key tracks (`max_values`,
  // default kDefaultMaxValues). A new value beyond it is not tracked and is
  // counted as an overflow, so the feature saturates there and a read or
  // update costs at most this many values, however hostile the stream.
  static constexpr std::uint32_t kDefaultMaxValues = 1000;
  static constexpr std::uint32_t kMaxMaxValues = 100'000;
  std::uint32_t max_values = kDefaultMaxValues;
  // Hex digest of the name and definition (agg, of, by, window, resolution,
  // where and the macros it reads).
  // Stores key state by it, so an unchanged feature keeps its state across
  // reloads and a changed one starts fresh.
  std::string fingerprint;
};

struct ReasonPart {
  std::string literal;                // text before the placeholder
  std::optional<std::uint32_t> node;  // placeholder expression, if any
};

struct RuleDef {
  std::string name;
  std::string description;
  std::uint32_t when_node = 0;
  double score = 0;
  std::optional<Decision> decision;
  bool shadow = false;
  std::vector<std::string> tags;
  std::vector<ReasonPart> reason;  // empty: no reason text
  bool has_reason = false;
  std::vector<std::uint32_t> features_read;  // feature ids, ascending (model inputs' included)
  std::vector<std::uint32_t> models_read;    // model ids, ascending
};

// Exact TreeSHAP through libxgboost, for `explain_method: shap`: one booster
// shared by the evaluating threads, so calls are serialized.
struct ShapExplainer {
  std::unique_ptr<XgbBooster> booster;
  std::mutex mu;
};

struct ModelInput {
  std::string text;  // as written in the pack
  std::uint32_t node = 0;
};

// A learned model of the pack (RULES.md "Models").
struct ModelDef {
  std::string name;
  std::string file;  // relative to the pack directory
  std::optional<std::uint32_t> where_node;
  std::vector<ModelInput> inputs;  // in the model's feature order
  std::uint32_t explain = 0;       // top-N contributions in verdicts
  bool explain_shap = false;       // exact TreeSHAP instead of per-path
  // Null only while `fraudstream train` makes this model (never scored).
  std::shared_ptr<const TreeEnsemble> trees;
  std::shared_ptr<ShapExplainer> shap;  // with explain_shap
};

struct ScoreThresholds {
  double review = 50;
  double decline = 80;
};

struct PackFileInfo {
  std::string path;    // relative to the pack directory
  std::string sha256;  // hex
};

// What one event type needs: the rules to evaluate (pack order), the features
// to update (their `where` may still reject the event) and to read.
struct TypePlan {
  std::vector<std::uint32_t> rules;
  std::vector<std::uint32_t> features;     // planned: key computed, maybe updated
  std::vector<std::uint8_t> feature_read;  // per entry of `features`: value needed
  // Per entry of `features`: when its value is needed. A rule `A and B and
  // f > 1` whose conjuncts A and B read no feature cannot match an event
  // they do not hold for, so f's value is needed only for events where they
  // do (a verdict lists the features of matched rules only). Each guard is
  // one reading rule's feature-free conjuncts (node ids; those that only
  // test the event type, and can hold for this one, are left out: leaving a
  // conjunct out can only make the value needed more often): the value is
  // needed when every node of one guard holds. Empty: needed whenever
  // `feature_read` says so (some reading rule has no feature-free
  // conjunct). An event that neither needs the value nor passes the
  // feature's `where` costs no store operation.
  std::vector<std::vector<std::vector<std::uint32_t>>> read_guards;
  // Models the rules of this type read, with guards as for features: an
  // event is scored by a model only if some guard holds (and its `where`).
  std::vector<std::uint32_t> models;
  std::vector<std::vector<std::vector<std::uint32_t>>> model_guards;
};

// Whether an event needs the value of a planned feature (see TypePlan).
template <typename Holds>
bool guards_hold(const std::vector<std::vector<std::uint32_t>>& guards, Holds&& holds) {
  if (guards.empty()) return true;
  for (const auto& guard : guards) {
    bool all = true;
    for (std::uint32_t node : guard) {
      if (!holds(node)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

template <typename Holds>
bool value_needed(const TypePlan& plan, std::size_t entry, Holds&& holds) {
  return plan.feature_read[entry] != 0 && guards_hold(plan.read_guards[entry], holds);
}

class RuleSet {
 public:
  FieldTable fields;
  std::vector<Node> nodes;
  std::vector<std::uint32_t> args;
  std::vector<ListSet> lists;  // named lists first, then list literals
  std::vector<std::string> list_names;
  std::vector<FeatureDef> features;
  std::vector<RuleDef> rules;
  std::vector<ModelDef> models;
  ScoreThresholds thresholds;
  // settings.max_future (default 1h): how far an event's `ts` may be ahead
  // of its record time before its features use record time + this.
  std::int64_t max_future_ms = 3'600'000;
  // settings.max_lateness (default 1h): how late an event may be behind its
  // key's newest event and still be exact (features may override it; each
  // feature's bound is FeatureDef::late_buckets).
  std::int64_t max_lateness_ms = 3'600'000;
  std::string version;  // sha256 over the pack's files, hex
  std::vector<PackFileInfo> files;
  std::vector<std::unique_ptr<std::string>> strings;  // storage of string constants

  // The plan for an event type; types no rule or feature names get the plan
  // of rules and features that apply to every type.
  const TypePlan& plan_for(std::string_view event_type) const {
    auto it = by_type.find(event_type);
    return it == by_type.end() ? any_type : it->second;
  }
  // Same plan, but reading every feature (rule tests inspect any feature).
  const TypePlan& full_plan_for(std::string_view event_type) const {
    auto it = by_type_full.find(event_type);
    return it == by_type_full.end() ? any_type_full : it->second;
  }

  std::optional<std::uint32_t> rule_index(std::string_view name) const;
  std::optional<std::uint32_t> feature_index(std::string_view name) const;
  std::optional<std::uint32_t> model_index(std::string_view name) const;

  std::unordered_map<std::string, TypePlan, StringHash, std::equal_to<>> by_type;
  TypePlan any_type;
  std::unordered_map<std::string, TypePlan, StringHash, std::equal_to<>> by_type_full;
  TypePlan any_type_full;
};

}  // namespace fraud

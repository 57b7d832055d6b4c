#include "engine/rule_set.h"

#include <algorithm>

namespace fraud {

std::string_view decision_name(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return "allow";
    case Decision::kReview:
      return "review";
    case Decision::kDecline:
      return "decline";
  }
  return "allow";
}

std::optional<Decision> parse_decision(std::string_view s) {
  if (s == "allow") return Decision::kAllow;
  if (s == "review") return Decision::kReview;
  if (s == "decline") return Decision::kDecline;
  return std::nullopt;
}

std::string_view aggregation_name(Aggregation a) {
  switch (a) {
    case Aggregation::kCount:
      return "count";
    case Aggregation::kSum:
      return "sum";
    case Aggregation::kMin:
      return "min";
    case Aggregation::kMax:
      return "max";
    case Aggregation::kAvg:
      return "avg";
    case Aggregation::kDistinct:
      return "distinct";
  }
  return "count";
}

void ListSet::add(const Value& v) {
  switch (v.kind) {
    case ValueKind::kString:
      strings_.emplace(v.text);
      break;
    case ValueKind::kNumber:
      numbers_.insert(v.number == 0 ? 0.0 : v.number);
      break;
    case ValueKind::kBool:
      (v.boolean ? has_true_ : has_false_) = true;
      break;
    default:
      break;
  }
}

bool ListSet::contains(const Value& v) const {
  switch (v.kind) {
    case ValueKind::kString:
      return strings_.find(v.text) != strings_.end();
    case ValueKind::kNumber:
      return numbers_.count(v.number == 0 ? 0.0 : v.number) > 0;
    case ValueKind::kBool:
      return v.boolean ? has_true_ : has_false_;
    default:
      return false;
  }
}

std::optional<std::vector<std::string>> ListSet::only_strings() const {
  if (!numbers_.empty() || has_true_ || has_false_) return std::nullopt;
  std::vector<std::string> out(strings_.begin(), strings_.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::uint32_t> RuleSet::rule_index(std::string_view name) const {
  for (std::uint32_t i = 0; i < rules.size(); ++i) {
    if (rules[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> RuleSet::feature_index(std::string_view name) const {
  for (std::uint32_t i = 0; i < features.size(); ++i) {
    if (features[i].name == name) return i;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> RuleSet::model_index(std::string_view name) const {
  for (std::uint32_t i = 0; i < models.size(); ++i) {
    if (models[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace fraud

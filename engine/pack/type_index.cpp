#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

void PackCompiler::collect_features(std::uint32_t node, std::vector<char>& seen_nodes, std::set<std::uint32_t>& out,
                                    std::set<std::uint32_t>* models) const {
  if (seen_nodes[node]) return;
  seen_nodes[node] = 1;
  const Node& n = rs_->nodes[node];
  if (n.op == NodeOp::kFeature) out.insert(n.index);
  if (n.op == NodeOp::kModel || (n.op == NodeOp::kCall && n.function == Function::kExplain)) {
    if (models) models->insert(n.index);
    // Scoring reads the model's inputs (its `where` reads no feature).
    for (const auto& in : rs_->models[n.index].inputs) collect_features(in.node, seen_nodes, out, models);
  }
  for (std::uint32_t k = 0; k < n.args_count; ++k) {
    collect_features(rs_->args[n.args_begin + k], seen_nodes, out, models);
  }
}

// The conjuncts of an expression: the operands of its `and`s, nested
// `and`s (macros included) flattened.
void PackCompiler::conjuncts(std::uint32_t node, std::vector<std::uint32_t>& out) const {
  const Node& n = rs_->nodes[node];
  if (n.op == NodeOp::kAnd) {
    conjuncts(rs_->args[n.args_begin], out);
    conjuncts(rs_->args[n.args_begin + 1], out);
  } else {
    out.push_back(node);
  }
}

// Event types an expression can be true for; nullopt = any type.
std::optional<std::set<std::string>> PackCompiler::type_constraint(std::uint32_t node) const {
  const Node& n = rs_->nodes[node];
  auto arg = [&](std::uint32_t k) { return rs_->args[n.args_begin + k]; };
  auto is_type_field = [&](std::uint32_t i) {
    return rs_->nodes[i].op == NodeOp::kField && rs_->nodes[i].index == FieldTable::kEventType;
  };
  switch (n.op) {
    case NodeOp::kAnd: {
      auto a = type_constraint(arg(0));
      auto b = type_constraint(arg(1));
      if (!a) return b;
      if (!b) return a;
      std::set<std::string> both;
      std::set_intersection(a->begin(), a->end(), b->begin(), b->end(), std::inserter(both, both.end()));
      return both;
    }
    case NodeOp::kOr: {
      auto a = type_constraint(arg(0));
      auto b = type_constraint(arg(1));
      if (!a || !b) return std::nullopt;
      a->insert(b->begin(), b->end());
      return a;
    }
    case NodeOp::kEq: {
      for (int side = 0; side < 2; ++side) {
        const Node& other = rs_->nodes[arg(1 - side)];
        if (is_type_field(arg(side)) && other.op == NodeOp::kConst) {
          if (other.constant.is_string()) return std::set<std::string>{std::string(other.constant.text)};
          return std::set<std::string>{};
        }
      }
      return std::nullopt;
    }
    case NodeOp::kIn: {
      if (!is_type_field(arg(0))) return std::nullopt;
      auto strings = rs_->lists[n.index].only_strings();
      if (!strings) return std::nullopt;
      return std::set<std::string>(strings->begin(), strings->end());
    }
    default:
      return std::nullopt;
  }
}

void PackCompiler::build_indexes() {
  RuleSet& rs = *rs_;
  std::vector<std::optional<std::set<std::string>>> rule_types, feature_types;
  std::set<std::string> all_types;
  // Per rule, its conjuncts that read no feature, with the event types
  // each can be true for (see TypePlan::read_guards).
  struct Conjunct {
    std::uint32_t node;
    std::optional<std::set<std::string>> types;
  };
  std::vector<std::vector<Conjunct>> feature_free(rs.rules.size());
  for (std::uint32_t r = 0; r < rs.rules.size(); ++r) {
    RuleDef& rule = rs.rules[r];
    std::vector<char> seen(rs.nodes.size(), 0);
    std::set<std::uint32_t> feats, models;
    collect_features(rule.when_node, seen, feats, &models);
    for (const auto& part : rule.reason) {
      if (part.node) collect_features(*part.node, seen, feats, &models);
    }
    rule.features_read.assign(feats.begin(), feats.end());
    rule.models_read.assign(models.begin(), models.end());
    rule_types.push_back(type_constraint(rule.when_node));
    if (rule_types.back()) all_types.insert(rule_types.back()->begin(), rule_types.back()->end());
    std::vector<std::uint32_t> parts;
    conjuncts(rule.when_node, parts);
    for (std::uint32_t node : parts) {
      std::vector<char> seen_part(rs.nodes.size(), 0);
      std::set<std::uint32_t> reads, models_read;
      collect_features(node, seen_part, reads, &models_read);
      if (reads.empty() && models_read.empty()) feature_free[r].push_back({node, type_constraint(node)});
    }
  }
  for (const auto& f : rs.features) {
    feature_types.push_back(f.where_node ? type_constraint(*f.where_node) : std::nullopt);
    if (feature_types.back()) all_types.insert(feature_types.back()->begin(), feature_types.back()->end());
  }
  auto make_plan = [&](const std::string* type, bool read_all) {
    TypePlan plan;
    std::vector<char> read(rs.features.size(), read_all ? 1 : 0);
    // Per feature: the guards of the rules reading it; `always`: some
    // reading rule has none (or every feature is read).
    std::vector<std::vector<std::vector<std::uint32_t>>> guards(rs.features.size());
    std::vector<char> always(rs.features.size(), read_all ? 1 : 0);
    std::vector<char> model_read(rs.models.size(), 0), model_always(rs.models.size(), 0);
    std::vector<std::vector<std::vector<std::uint32_t>>> model_guards(rs.models.size());
    for (std::uint32_t r = 0; r < rs.rules.size(); ++r) {
      if (rule_types[r] && (!type || !rule_types[r]->count(*type))) continue;
      plan.rules.push_back(r);
      std::vector<std::uint32_t> guard;
      for (const Conjunct& c : feature_free[r]) {
        if (!(type && c.types && c.types->count(*type))) guard.push_back(c.node);
      }
      for (auto f : rs.rules[r].features_read) {
        read[f] = 1;
        if (guard.empty()) {
          always[f] = 1;
        } else if (std::find(guards[f].begin(), guards[f].end(), guard) == guards[f].end()) {
          guards[f].push_back(guard);
        }
      }
      for (auto m : rs.rules[r].models_read) {
        model_read[m] = 1;
        if (guard.empty() || read_all) {
          model_always[m] = 1;
        } else if (std::find(model_guards[m].begin(), model_guards[m].end(), guard) == model_guards[m].end()) {
          model_guards[m].push_back(guard);
        }
      }
    }
    for (std::uint32_t m = 0; m < rs.models.size(); ++m) {
      if (!model_read[m] && !read_all) continue;
      plan.models.push_back(m);
      plan.model_guards.push_back(model_always[m] || !model_read[m] ? std::vector<std::vector<std::uint32_t>>{}
                                                                    : std::move(model_guards[m]));
    }
    for (std::uint32_t f = 0; f < rs.features.size(); ++f) {
      bool updates = !feature_types[f] || (type && feature_types[f]->count(*type));
      if (updates || read[f]) {
        plan.features.push_back(f);
        plan.feature_read.push_back(read[f]);
        plan.read_guards.push_back(always[f] ? std::vector<std::vector<std::uint32_t>>{} : std::move(guards[f]));
      }
    }
    return plan;
  };
  for (const auto& t : all_types) {
    rs.by_type.emplace(t, make_plan(&t, false));
    rs.by_type_full.emplace(t, make_plan(&t, true));
  }
  rs.any_type = make_plan(nullptr, false);
  rs.any_type_full = make_plan(nullptr, true);
}

}  // namespace fraud::pack

#include "engine/model/tree_ensemble.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace fraud {

namespace {

// Limits that keep a hostile model file bounded in memory and build time:
// per-leaf credits cost O(depth) each.
constexpr std::size_t kMaxTrees = 100'000;
constexpr std::size_t kMaxNodes = 20'000'000;
constexpr std::size_t kMaxDepth = 64;
constexpr std::uint32_t kMaxFeatures = 100'000;

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

struct Fail {
  std::string what;
};

element at(const element& e, std::string_view key, const std::string& where) {
  object o;
  if (e.get_object().get(o)) throw Fail{where + " is not an object"};
  element v;
  if (o[key].get(v)) throw Fail{where + "." + std::string(key) + " is missing"};
  return v;
}

// XGBoost writes some numbers as strings ("5E-1", or "[5E-1]" in 2.x).
double number_of(const element& e, const std::string& where) {
  double d;
  if (!e.get_double().get(d)) return d;
  std::int64_t i;
  if (!e.get_int64().get(i)) return static_cast<double>(i);
  std::string_view s;
  if (e.get_string().get(s)) throw Fail{where + " is not a number"};
  std::string text(s);
  if (!text.empty() && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  char* end = nullptr;
  d = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) throw Fail{where + " is not a number: \"" + text + "\""};
  return d;
}

template <typename T>
std::vector<T> numbers(const element& tree, std::string_view key, const std::string& where, std::size_t n) {
  array a;
  if (at(tree, key, where).get_array().get(a)) throw Fail{where + "." + std::string(key) + " is not an array"};
  if (a.size() != n) {
    throw Fail{where + "." + std::string(key) + " has " + std::to_string(a.size()) + " entries for " +
               std::to_string(n) + " nodes"};
  }
  std::vector<T> out;
  out.reserve(n);
  for (element v : a) {
    double d = number_of(v, where + "." + std::string(key));
    if (!std::isfinite(d)) throw Fail{where + "." + std::string(key) + " holds a value that is not finite"};
    out.push_back(static_cast<T>(d));
  }
  return out;
}

std::string_view string_at(const element& e, std::string_view key, const std::string& where) {
  std::string_view s;
  if (at(e, key, where).get_string().get(s)) throw Fail{where + "." + std::string(key) + " is not a string"};
  return s;
}

}  // namespace

float TreeEnsemble::transform(float margin) const {
  if (transform_ == Transform::kSigmoid) return 1.0f / (1.0f + std::exp(-margin));
  return margin;
}

void TreeEnsemble::widen(const float* row, float* wide) const {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (std::uint32_t f = 0; f < num_features_; ++f) {
    bool missing = row[f] != row[f];
    wide[f] = missing ? -kInf : row[f];
    wide[num_features_ + f] = missing ? kInf : row[f];
  }
}

void TreeEnsemble::predict_margin(std::span<const float> rows, std::span<float> out) const {
  const std::size_t n = out.size(), nf = num_features_, wf = 2 * nf;
  std::fill(out.begin(), out.end(), base_margin_);
  constexpr std::size_t kBlock = 64;  // rows whose widened inputs stay in L1
  thread_local std::vector<float> wide;
  wide.resize(std::min(n, kBlock) * wf);
  if (n < 8) {
    // Few rows: several trees of one row at a time; their leaves are added
    // in tree order.
    constexpr std::size_t kTrees = 8;
    for (std::size_t r = 0; r < n; ++r) {
      widen(rows.data() + r * nf, wide.data());
      const float* row = wide.data();
      std::size_t t = 0;
      for (; t + kTrees <= roots_.size(); t += kTrees) {
        std::uint32_t at[kTrees];
        std::uint32_t depth = 0;
        for (std::size_t k = 0; k < kTrees; ++k) {
          at[k] = roots_[t + k];
          depth = std::max(depth, depth_[t + k]);
        }
        for (std::uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 8
          for (std::size_t k = 0; k < kTrees; ++k) at[k] = step(at[k], row);
        }
        for (std::size_t k = 0; k < kTrees; ++k) out[r] += leaf_value_[at[k]];
      }
      for (; t < roots_.size(); ++t) out[r] += leaf_value_[leaf_of(t, row)];
    }
    return;
  }
  // Many rows: a block of rows goes through every tree, each tree over
  // several rows at a time.
  constexpr std::size_t kLanes = 16;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t end = std::min(n, b + kBlock);
    for (std::size_t r = b; r < end; ++r) widen(rows.data() + r * nf, wide.data() + (r - b) * wf);
    for (std::size_t t = 0; t < roots_.size(); ++t) {
      const std::uint32_t root = roots_[t], depth = depth_[t];
      std::size_t r = b;
      for (; r + kLanes <= end; r += kLanes) {
        const float* w = wide.data() + (r - b) * wf;
        std::uint32_t at[kLanes];
        for (std::size_t k = 0; k < kLanes; ++k) at[k] = root;
        for (std::uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
          for (std::size_t k = 0; k < kLanes; ++k) at[k] = step(at[k], w + k * wf);
        }
        for (std::size_t k = 0; k < kLanes; ++k) out[r + k] += leaf_value_[at[k]];
      }
      for (; r < end; ++r) out[r] += leaf_value_[leaf_of(t, wide.data() + (r - b) * wf)];
    }
  }
}

void TreeEnsemble::predict(std::span<const float> rows, std::span<float> out) const {
  predict_margin(rows, out);
  for (float& x : out) x = transform(x);
}

void TreeEnsemble::contributions(std::span<const float> row, std::span<float> out) const {
  std::fill(out.begin(), out.end(), 0.0f);
  thread_local std::vector<float> wide;
  wide.resize(2 * num_features_);
  widen(row.data(), wide.data());
  float& bias = out[num_features_];
  for (std::size_t t = 0; t < roots_.size(); ++t) {
    std::uint32_t leaf = leaf_of(t, wide.data());
    for (std::uint32_t k = credit_[leaf]; k < credit_[leaf + 1]; ++k) out[credits_[k].feature] += credits_[k].amount;
    bias += tree_bias_[t];
  }
  bias += base_margin_;
}

std::variant<TreeEnsemble, std::string> TreeEnsemble::from_xgboost_json(std::string_view json) {
  simdjson::dom::parser parser;
  element root;
  simdjson::padded_string padded(json);
  if (auto err = parser.parse(padded).get(root)) {
    return std::string("not a JSON document: ") + simdjson::error_message(err);
  }
  try {
    TreeEnsemble m;
    element learner = at(root, "learner", "model");
    std::string_view booster = string_at(at(learner, "gradient_booster", "learner"), "name", "gradient_booster");
    if (booster != "gbtree") {
      throw Fail{"booster '" + std::string(booster) + "' is not supported (gbtree only)"};
    }
    m.objective_ = std::string(string_at(at(learner, "objective", "learner"), "name", "learner.objective"));
    if (std::find(std::begin(kObjectives), std::end(kObjectives), m.objective_) == std::end(kObjectives)) {
      std::string list;
      for (auto o : kObjectives) list += (list.empty() ? "" : ", ") + std::string(o);
      throw Fail{"objective '" + m.objective_ + "' is not supported (supported: " + list + ")"};
    }
    bool sigmoid = m.objective_ == "binary:logistic" || m.objective_ == "reg:logistic";
    m.transform_ = sigmoid ? Transform::kSigmoid : Transform::kIdentity;
    element param = at(learner, "learner_model_param", "learner");
    double features = number_of(at(param, "num_feature", "learner_model_param"), "num_feature");
    if (!(features >= 1 && features <= kMaxFeatures))
      throw Fail{"num_feature must be 1.." + std::to_string(kMaxFeatures)};
    m.num_features_ = static_cast<std::uint32_t>(features);
    object param_object;
    if (param.get_object().get(param_object)) throw Fail{"learner_model_param is not an object"};
    element classes;
    if (!param_object["num_class"].get(classes) && number_of(classes, "num_class") > 1) {
      throw Fail{"multi-class models are not supported (one score per model)"};
    }
    element targets;
    if (!param_object["num_target"].get(targets) && number_of(targets, "num_target") > 1) {
      throw Fail{"multi-target models are not supported (one score per model)"};
    }
    float base_score = static_cast<float>(number_of(at(param, "base_score", "learner_model_param"), "base_score"));
    if (sigmoid) {
      if (!(base_score > 0.0f && base_score < 1.0f)) throw Fail{"base_score must be in (0, 1) for " + m.objective_};
      m.base_margin_ = -std::log(1.0f / base_score - 1.0f);
    } else {
      m.base_margin_ = base_score;
    }

    element model = at(at(learner, "gradient_booster", "learner"), "model", "gradient_booster");
    array trees;
    if (at(model, "trees", "gradient_booster.model").get_array().get(trees)) {
      throw Fail{"gradient_booster.model.trees is not an array"};
    }
    if (trees.size() > kMaxTrees) throw Fail{"more than " + std::to_string(kMaxTrees) + " trees"};
    array info;
    if (!at(model, "tree_info", "gradient_booster.model").get_array().get(info)) {
      for (element g : info) {
        if (number_of(g, "tree_info") != 0) throw Fail{"trees of several output groups are not supported"};
      }
    }
    std::size_t t = 0;
    for (element tree : trees) {
      std::string where = "tree " + std::to_string(t++);
      array lefts;
      if (at(tree, "left_children", where).get_array().get(lefts)) throw Fail{where + ".left_children is not an array"};
      std::size_t n = lefts.size();
      if (n == 0) throw Fail{where + " has no nodes"};
      if (m.nodes_.size() + n > kMaxNodes) throw Fail{"more than " + std::to_string(kMaxNodes) + " nodes in all"};
      auto left = numbers<std::int64_t>(tree, "left_children", where, n);
      auto right = numbers<std::int64_t>(tree, "right_children", where, n);
      auto split = numbers<std::int64_t>(tree, "split_indices", where, n);
      auto cond = numbers<float>(tree, "split_conditions", where, n);
      auto dleft = numbers<std::int64_t>(tree, "default_left", where, n);
      auto hess = numbers<float>(tree, "sum_hessian", where, n);
      array types;
      if (!at(tree, "split_type", where).get_array().get(types)) {
        for (element s : types) {
          if (number_of(s, where + ".split_type") != 0) throw Fail{where + " has a categorical split (not supported)"};
        }
      }
      // Breadth-first renumbering: children of a node become adjacent.
      std::vector<std::uint32_t> order{0}, depth_of(n, 0);
      std::vector<char> seen(n, 0);
      seen[0] = 1;
      std::size_t base = m.nodes_.size();
      m.roots_.push_back(static_cast<std::uint32_t>(base));
      for (std::size_t k = 0; k < order.size(); ++k) {
        std::uint32_t id = order[k];
        Node node{cond[id], kLeaf, 0};
        if (left[id] != -1) {
          for (std::int64_t c : {left[id], right[id]}) {
            if (c < 0 || static_cast<std::size_t>(c) >= n) throw Fail{where + " has a child index out of range"};
            if (seen[c]) throw Fail{where + " is not a tree (node " + std::to_string(c) + " has two parents)"};
            seen[c] = 1;
            depth_of[c] = depth_of[id] + 1;
            if (depth_of[c] > kMaxDepth) throw Fail{where + " is deeper than " + std::to_string(kMaxDepth)};
          }
          if (split[id] < 0 || split[id] >= m.num_features_) {
            throw Fail{where + " splits on feature " + std::to_string(split[id]) + " of " +
                       std::to_string(m.num_features_)};
          }
          node.left = static_cast<std::uint32_t>(base + order.size());
          node.input = static_cast<std::uint32_t>(split[id]) | (dleft[id] ? kDefaultLeft : 0);
          order.push_back(static_cast<std::uint32_t>(left[id]));
          order.push_back(static_cast<std::uint32_t>(right[id]));
        }
        m.nodes_.push_back(node);
      }
      // Node means as XGBoost's FillNodeMeanValues computes them (in float,
      // children weighted by their hessian sums); children come after
      // their parent in `order`, so walking it backwards sees them first.
      std::vector<float> mean(order.size());
      for (std::size_t k = order.size(); k-- > 0;) {
        const Node& node = m.nodes_[base + k];
        if (node.left == kLeaf) {
          mean[k] = node.value;
        } else {
          std::size_t l = node.left - base;
          float result = mean[l] * hess[order[l]];
          result += mean[l + 1] * hess[order[l + 1]];
          result /= hess[order[k]];
          mean[k] = result;
        }
      }
      m.tree_bias_.push_back(mean[0]);
      // Per leaf: the credits of its path, each input's in path order.
      m.credit_.resize(m.nodes_.size() + 1, 0);
      std::vector<std::uint32_t> parent(order.size(), 0);
      for (std::size_t k = 0; k < order.size(); ++k) {
        const Node& node = m.nodes_[base + k];
        if (node.left != kLeaf) parent[node.left - base] = parent[node.left - base + 1] = static_cast<std::uint32_t>(k);
      }
      std::vector<std::uint32_t> path;
      for (std::size_t k = 0; k < order.size(); ++k) {
        m.credit_[base + k] = static_cast<std::uint32_t>(m.credits_.size());
        if (m.nodes_[base + k].left != kLeaf) continue;
        path.clear();
        for (std::size_t at_node = k; at_node != 0; at_node = parent[at_node]) path.push_back(at_node);
        std::size_t first = m.credits_.size();
        for (std::size_t p = path.size(); p-- > 0;) {
          std::uint32_t child = path[p], up = parent[child];
          std::uint32_t feature = m.nodes_[base + up].input & ~kDefaultLeft;
          float delta = mean[child] - mean[up];
          auto it = std::find_if(m.credits_.begin() + first, m.credits_.end(),
                                 [&](const Credit& c) { return c.feature == feature; });
          if (it == m.credits_.end()) {
            m.credits_.push_back({feature, 0.0f + delta});
          } else {
            it->amount += delta;
          }
        }
      }
      m.credit_[m.nodes_.size()] = static_cast<std::uint32_t>(m.credits_.size());
      // Leaves become self-loops (see Node), their values kept aside.
      std::uint32_t deepest = 0;
      m.leaf_value_.resize(m.nodes_.size(), 0.0f);
      for (std::size_t k = 0; k < order.size(); ++k) {
        Node& node = m.nodes_[base + k];
        if (node.left != kLeaf) {
          std::uint32_t feature = node.input & ~kDefaultLeft;
          node.input = (node.input & kDefaultLeft) ? feature : m.num_features_ + feature;
          continue;
        }
        deepest = std::max(deepest, depth_of[order[k]]);
        m.leaf_value_[base + k] = node.value;
        node = Node{std::nanf(""), static_cast<std::uint32_t>(base + k), 0};
      }
      m.depth_.push_back(deepest);
    }
    return m;
  } catch (const Fail& f) {
    return f.what;
  }
}

}  // namespace fraud

// TreeEnsemble: an XGBoost gradient-boosted tree model, compiled into a flat
// layout the engine evaluates itself (RULES.md "Models").
//
// Built from XGBoost's JSON model format (gbtree booster, one output). The
// structure is checked in full before anything is built: array lengths,
// child indices in range, every node reached once from its tree's root, split
// features below `num_feature`, finite numbers; anything else is an error
// value naming what is wrong, never a crash, whatever the file holds.
//
// Predictions match XGBoost 1.7's CPU predictor bit for bit: inputs are
// 32-bit floats, NaN is missing (the node's default direction), a split sends
// `value < condition` left, the margin starts at the base margin and adds
// each tree's leaf in tree order in float, then the objective's transform.
// Contributions are XGBoost's approximate (per-path, Saabas) ones
// (`approx_contribs`), precomputed per leaf at build time, so explaining a
// row costs one walk per tree plus the leaf's few entries.
//
// Thread safety: immutable after build; every method is const and may run
// on many threads at once.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fraud {

class TreeEnsemble {
 public:
  enum class Transform : std::uint8_t { kIdentity, kSigmoid };

  // Objectives the engine scores, with their output transform.
  static constexpr std::string_view kObjectives[] = {"binary:logistic", "binary:logitraw", "reg:logistic",
                                                     "reg:squarederror"};

  // Parses XGBoost JSON model text; the error text says what is wrong.
  static std::variant<TreeEnsemble, std::string> from_xgboost_json(std::string_view json);

  std::uint32_t num_features() const { return num_features_; }
  std::size_t num_trees() const { return roots_.size(); }
  std::size_t num_nodes() const { return nodes_.size(); }
  std::uint32_t max_depth() const { return depth_.empty() ? 0 : *std::max_element(depth_.begin(), depth_.end()); }
  const std::string& objective() const { return objective_; }
  float base_margin() const { return base_margin_; }

  // rows: n x num_features() floats, row-major, NaN = missing; out: n scores.
  void predict(std::span<const float> rows, std::span<float> out) const;
  // Same, without the objective's transform.
  void predict_margin(std::span<const float> rows, std::span<float> out) const;
  float transform(float margin) const;

  // Approximate contributions of one row: num_features() + 1 floats, the
  // last is the bias; they sum to the margin.
  void contributions(std::span<const float> row, std::span<float> out) const;

 private:
  // The walk reads a row "widened" to 2 x num_features: the inputs with NaN
  // as -inf, then as +inf. A split whose missing values go left reads the
  // first half, one whose missing go right the second, so `value >=
  // condition` alone picks the child, as XGBoost's `!(value < condition)`
  // with its default directions does. A leaf leads to itself (condition
  // NaN), so every row of a tree takes the tree's depth in steps, with no
  // branch on the data; several rows (or trees) are walked at once, their
  // load chains overlapping.
  struct Node {
    float value;          // split condition; NaN for a leaf
    std::uint32_t left;   // first child (the right one follows); itself for a leaf
    std::uint32_t input;  // index into the widened row
  };
  struct Credit {  // one input's per-path contribution within one tree
    std::uint32_t feature;
    float amount;
  };
  static constexpr std::uint32_t kLeaf = 0xFFFFFFFFu;         // while building
  static constexpr std::uint32_t kDefaultLeft = 0x80000000u;  // while building

  void widen(const float* row, float* wide) const;
  std::uint32_t step(std::uint32_t i, const float* wide) const {
    const Node& n = nodes_[i];
    return n.left + static_cast<std::uint32_t>(wide[n.input] >= n.value);
  }
  std::uint32_t leaf_of(std::size_t tree, const float* wide) const {
    std::uint32_t i = roots_[tree];
    for (std::uint32_t d = depth_[tree]; d > 0; --d) i = step(i, wide);
    return i;
  }

  std::uint32_t num_features_ = 0;
  std::string objective_;
  Transform transform_ = Transform::kIdentity;
  float base_margin_ = 0;
  std::vector<Node> nodes_;            // every tree, each laid out breadth first
  std::vector<std::uint32_t> roots_;   // per tree: its root's index in nodes_
  std::vector<std::uint32_t> depth_;   // per tree: its deepest leaf's depth
  std::vector<float> leaf_value_;      // per node: the leaf's value (0 for a split)
  std::vector<float> tree_bias_;       // per tree: the root's mean value
  std::vector<std::uint32_t> credit_;  // per node (leaves used): first entry in credits_, plus an end marker
  std::vector<Credit> credits_;
};

}  // namespace fraud

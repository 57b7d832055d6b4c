// XgbBooster: libxgboost (Debian's 1.7, C API) behind a small RAII class.
//
// The engine scores with its own TreeEnsemble; libxgboost loads and
// validates model files, computes exact TreeSHAP contributions
// (`explain_method: shap`), serves as the reference the compiled trees are
// tested against, and trains (`fraudstream train`). Every call returns an
// error value with XGBoost's message; nothing throws.
//
// Thread safety: a booster is used by one thread at a time (XGBoost keeps a
// prediction cache per booster); callers that share one lock it (see
// ModelDef in rule_set.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fraud {

class XgbBooster {
 public:
  enum class Output : int { kValue = 0, kMargin = 1, kContributions = 2, kApproxContributions = 3 };

  // Loads an XGBoost JSON model from memory.
  static std::variant<std::unique_ptr<XgbBooster>, std::string> from_json(std::string_view json);
  ~XgbBooster();
  XgbBooster(const XgbBooster&) = delete;
  XgbBooster& operator=(const XgbBooster&) = delete;

  std::uint64_t num_features() const;
  // rows: n x num_features floats, NaN missing. kValue/kMargin give n
  // floats; contributions give n x (num_features + 1), bias last.
  std::variant<std::vector<float>, std::string> predict(std::span<const float> rows, std::size_t n,
                                                        Output output) const;
  // The model as XGBoost JSON (empty if XGBoost cannot write it).
  std::string to_json() const;

  struct TrainParams {
    int rounds = 200;
    int max_depth = 6;
    double learning_rate = 0.1;
    double scale_pos_weight = 1;
    int threads = 0;  // 0: XGBoost's default
    std::uint64_t seed = 0;
  };
  // Trains a binary:logistic model (tree_method hist) on rows/labels.
  static std::variant<std::unique_ptr<XgbBooster>, std::string> train(std::span<const float> rows,
                                                                      std::span<const float> labels,
                                                                      std::size_t num_features,
                                                                      const TrainParams& params);

 private:
  explicit XgbBooster(void* handle) : handle_(handle) {}
  void* handle_;
};

}  // namespace fraud

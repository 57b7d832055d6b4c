#include "engine/model/xgboost_booster.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <string>

namespace fraud {

namespace {

// XGBoost's message without its stack trace.
std::string last_error(const char* what) {
  std::string message = XGBGetLastError();
  if (auto cut = message.find("\nStack trace:"); cut != std::string::npos) message.resize(cut);
  return std::string(what) + ": " + message;
}

// A DMatrix over dense rows, freed on scope exit.
struct Matrix {
  DMatrixHandle handle = nullptr;
  ~Matrix() {
    if (handle) XGDMatrixFree(handle);
  }
};

}  // namespace

std::variant<std::unique_ptr<XgbBooster>, std::string> XgbBooster::from_json(std::string_view json) {
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) return last_error("XGBoosterCreate");
  std::unique_ptr<XgbBooster> b(new XgbBooster(h));
  if (XGBoosterLoadModelFromBuffer(h, json.data(), json.size()) != 0) return last_error("cannot load the model");
  XGBoosterSetParam(h, "nthread", "1");
  return b;
}

XgbBooster::~XgbBooster() {
  if (handle_) XGBoosterFree(handle_);
}

std::uint64_t XgbBooster::num_features() const {
  bst_ulong n = 0;
  XGBoosterGetNumFeature(handle_, &n);
  return n;
}

std::variant<std::vector<float>, std::string> XgbBooster::predict(std::span<const float> rows, std::size_t n,
                                                                  Output output) const {
  std::uint64_t nf = num_features();
  if (rows.size() != n * nf) return std::string("rows do not match the model's feature count");
  Matrix m;
  if (XGDMatrixCreateFromMat(rows.data(), n, nf, std::nanf(""), &m.handle) != 0) {
    return last_error("XGDMatrixCreateFromMat");
  }
  std::string config = "{\"type\": " + std::to_string(static_cast<int>(output)) +
                       ", \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(handle_, m.handle, config.c_str(), &shape, &dim, &result) != 0) {
    return last_error("XGBoosterPredictFromDMatrix");
  }
  std::size_t total = 1;
  for (bst_ulong d = 0; d < dim; ++d) total *= shape[d];
  return std::vector<float>(result, result + total);
}

std::string XgbBooster::to_json() const {
  bst_ulong len = 0;
  const char* data = nullptr;
  if (XGBoosterSaveModelToBuffer(handle_, "{\"format\": \"json\"}", &len, &data) != 0) return {};
  return std::string(data, len);
}

std::variant<std::unique_ptr<XgbBooster>, std::string> XgbBooster::train(std::span<const float> rows,
                                                                         std::span<const float> labels,
                                                                         std::size_t num_features,
                                                                         const TrainParams& params) {
  if (labels.empty() || rows.size() != labels.size() * num_features) return std::string("no rows to train on");
  Matrix m;
  if (XGDMatrixCreateFromMat(rows.data(), labels.size(), num_features, std::nanf(""), &m.handle) != 0) {
    return last_error("XGDMatrixCreateFromMat");
  }
  if (XGDMatrixSetFloatInfo(m.handle, "label", labels.data(), labels.size()) != 0) {
    return last_error("XGDMatrixSetFloatInfo");
  }
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(&m.handle, 1, &h) != 0) return last_error("XGBoosterCreate");
  std::unique_ptr<XgbBooster> b(new XgbBooster(h));
  auto set = [&](const char* k, const std::string& v) { return XGBoosterSetParam(h, k, v.c_str()) == 0; };
  bool ok = set("objective", "binary:logistic") && set("tree_method", "hist") &&
            set("max_depth", std::to_string(params.max_depth)) && set("eta", std::to_string(params.learning_rate)) &&
            set("scale_pos_weight", std::to_string(params.scale_pos_weight)) &&
            set("seed", std::to_string(params.seed)) && set("eval_metric", "aucpr");
  if (ok && params.threads > 0) ok = set("nthread", std::to_string(params.threads));
  if (!ok) return last_error("XGBoosterSetParam");
  for (int i = 0; i < params.rounds; ++i) {
    if (XGBoosterUpdateOneIter(h, i, m.handle) != 0) return last_error("XGBoosterUpdateOneIter");
  }
  XGBoosterSetParam(h, "nthread", "1");
  return b;
}

}  // namespace fraud

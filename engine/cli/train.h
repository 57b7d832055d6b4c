// `fraudstream train`: a pack's model trained on the pack's own features.
//
// The events are replayed through the production pipeline exactly as
// `replay` runs them (in file order, in-memory store, every feature read), so
// each event's model inputs are the feature values it had when it was
// processed, never later ones. Rows are the events the model's `where`
// selects that have a label (0/1, true/false). The split is by event time:
// events before `validate_from` train (and, with `label_time`, only those
// whose label was known by then), the rest validate; default: the last 20%
// of the stream's event-time span. XGBoost (binary:logistic, hist) trains;
// the report compares the model with the pack's rules on the validation
// slice. Writes the model (XGBoost JSON) and a sidecar `<out>.training.json`
// (inputs, parameters, slices, data hash, metrics).
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "engine/model/xgboost_booster.h"

namespace fraud {

struct TrainOptions {
  std::string model;
  std::string label;                      // field holding the ground truth
  std::optional<std::string> label_time;  // field: when the label became known (ms or RFC 3339)
  std::optional<std::int64_t> validate_from_ms;
  XgbBooster::TrainParams params;
  std::size_t batch_size = 4096;
};

// Returns the exit status (0: trained and written).
int train_model(const std::filesystem::path& rules_dir, const std::filesystem::path& events,
                const std::filesystem::path& out_path, const TrainOptions& options, std::ostream& out,
                std::ostream& err);

// The sidecar's path for a model file: models/m.json -> models/m.training.json.
std::filesystem::path training_sidecar_path(const std::filesystem::path& model_path);

}  // namespace fraud

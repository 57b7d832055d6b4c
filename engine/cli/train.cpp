#include "engine/cli/train.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <ostream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/cli/replay.h"
#include "engine/cli/score_metrics.h"
#include "engine/model/tree_ensemble.h"
#include "engine/model_scorer.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/line_source.h"
#include "engine/pipeline/local_run.h"
#include "engine/sha256.h"
#include "engine/time_text.h"

namespace fraud {

namespace {

struct Example {
  std::int64_t ts = 0;
  std::optional<std::int64_t> label_time;
  bool label = false;
  bool rules_flagged = false;   // the pack's decision: review or decline
  bool rules_declined = false;  // decline
  std::size_t row = 0;          // into the row matrix
};

std::optional<std::int64_t> time_of(const Value& v) {
  if (v.is_number() && std::isfinite(v.number)) return static_cast<std::int64_t>(v.number);
  if (v.is_string()) return parse_rfc3339_ms(v.text);
  return std::nullopt;
}

std::string figure(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}

struct Slice {
  std::vector<const Example*> examples;
  std::int64_t from = INT64_MAX, to = INT64_MIN;
  std::size_t positives = 0;
  void add(const Example& e) {
    examples.push_back(&e);
    from = std::min(from, e.ts);
    to = std::max(to, e.ts);
    positives += e.label;
  }
};

}  // namespace

std::filesystem::path training_sidecar_path(const std::filesystem::path& model_path) {
  std::filesystem::path p = model_path;
  std::string stem = p.extension() == ".json" ? p.stem().string() : p.filename().string();
  return p.replace_filename(stem + ".training.json");
}

int train_model(const std::filesystem::path& rules_dir, const std::filesystem::path& events_path,
                const std::filesystem::path& out_path, const TrainOptions& o, std::ostream& out, std::ostream& err) {
  PackLoadOptions load_options;
  load_options.extra_fields = {o.label};
  if (o.label_time) load_options.extra_fields.push_back(*o.label_time);
  load_options.train_model = o.model;
  PackLoadResult pack = load_pack_directory(rules_dir, load_options);
  if (!pack.ok()) {
    err << pack.diagnostics.to_text();
    return 2;
  }
  const RuleSet& rules = *pack.rules;
  auto model_id = rules.model_index(o.model);
  if (!model_id) {
    err << "the pack in " << rules_dir.string() << " declares no model '" << o.model << "'\n";
    return 2;
  }
  const ModelDef& model = rules.models[*model_id];
  const std::uint32_t label_slot = *rules.fields.find(o.label);
  std::optional<std::uint32_t> label_time_slot;
  if (o.label_time) label_time_slot = rules.fields.find(*o.label_time);
  std::ifstream in(events_path);
  if (!in) {
    err << "cannot read " << events_path.string() << "\n";
    return 2;
  }

  // 1. The inputs of every labelled event the model would score, at the
  // point in time the event was processed.
  std::vector<Example> examples;
  std::vector<float> rows;
  std::uint64_t invalid = 0, unlabelled = 0, not_selected = 0;
  EvalScratch scratch;
  CallbackSink sink(
      [&](const VerdictOut& v) {
        scratch.reset();
        EvalContext ctx{rules, v.event, v.features, scratch};
        if (model.where_node && !holds(ctx, *model.where_node)) {
          ++not_selected;
          return;
        }
        auto label = label_of(v.event.field(label_slot));
        if (!label) {
          ++unlabelled;
          return;
        }
        Example e;
        e.ts = v.event.ts_ms;
        if (label_time_slot) e.label_time = time_of(v.event.field(*label_time_slot));
        e.label = *label;
        e.rules_flagged = v.verdict.decision != Decision::kAllow;
        e.rules_declined = v.verdict.decision == Decision::kDecline;
        e.row = examples.size();
        for (const auto& input : model.inputs) rows.push_back(model_input(evaluate(ctx, input.node)));
        examples.push_back(e);
      },
      [&](const DeadLetterOut&) { ++invalid; });
  LineSource source(in, "train");
  PipelineConfig config = local_config(o.batch_size);
  config.read_all_features = true;
  config.encode_verdicts = false;
  MemoryFeatureStore store;
  run_to_end(config, rules, source, sink, store);
  if (examples.empty()) {
    err << "no labelled event is selected by model '" << o.model << "' (field '" << o.label << "')\n";
    return 1;
  }

  // 2. The split by event time.
  auto [lo, hi] = std::minmax_element(examples.begin(), examples.end(),
                                      [](const Example& a, const Example& b) { return a.ts < b.ts; });
  std::int64_t cut = o.validate_from_ms.value_or(lo->ts + static_cast<std::int64_t>(0.8 * double(hi->ts - lo->ts)));
  Slice train, validation;
  std::uint64_t label_too_late = 0;
  for (const Example& e : examples) {
    if (e.ts >= cut) {
      validation.add(e);
    } else if (label_time_slot && (!e.label_time || *e.label_time >= cut)) {
      ++label_too_late;  // its label was not known at the cut-off
    } else {
      train.add(e);
    }
  }
  if (train.examples.empty() || train.positives == 0 || train.positives == train.examples.size()) {
    err << "the training slice (events before " << format_rfc3339_ms(cut) << ") has " << train.examples.size()
        << " rows, " << train.positives << " positive: both labels are needed\n";
    return 1;
  }
  const std::size_t nf = model.inputs.size();
  std::vector<float> train_rows, train_labels;
  for (const Example* e : train.examples) {
    train_rows.insert(train_rows.end(), rows.begin() + e->row * nf, rows.begin() + (e->row + 1) * nf);
    train_labels.push_back(e->label ? 1.0f : 0.0f);
  }
  Sha256 data;
  data.update(std::string_view(reinterpret_cast<const char*>(train_rows.data()), train_rows.size() * sizeof(float)));
  data.update(
      std::string_view(reinterpret_cast<const char*>(train_labels.data()), train_labels.size() * sizeof(float)));

  // 3. Training, then the model as the engine will score it.
  auto trained = XgbBooster::train(train_rows, train_labels, nf, o.params);
  if (auto* why = std::get_if<std::string>(&trained)) {
    err << "training failed: " << *why << "\n";
    return 1;
  }
  std::string json = std::get<std::unique_ptr<XgbBooster>>(trained)->to_json();
  auto compiled = TreeEnsemble::from_xgboost_json(json);
  if (auto* why = std::get_if<std::string>(&compiled)) {
    err << "the trained model does not load: " << *why << "\n";
    return 1;
  }
  const TreeEnsemble& trees = std::get<TreeEnsemble>(compiled);

  // 4. The validation report: model against the pack's rules.
  std::vector<ScoredLabel> scored;
  std::size_t rules_flagged = 0, rules_flagged_tp = 0, rules_declined = 0, rules_declined_tp = 0;
  for (const Example* e : validation.examples) {
    float score = 0;
    trees.predict(std::span<const float>(rows).subspan(e->row * nf, nf), std::span<float>(&score, 1));
    scored.push_back({score, e->label});
    rules_flagged += e->rules_flagged;
    rules_flagged_tp += e->rules_flagged && e->label;
    rules_declined += e->rules_declined;
    rules_declined_tp += e->rules_declined && e->label;
  }
  auto ratio = [](std::size_t a, std::size_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
  double ap = pr_auc(scored), roc = roc_auc(scored);
  double base_rate = ratio(validation.positives, validation.examples.size());
  char line[256];
  out << "model " << o.model << ": " << nf << " inputs, " << o.params.rounds << " rounds, depth " << o.params.max_depth
      << ", learning rate " << o.params.learning_rate << "\n";
  out << "events: " << examples.size() << " labelled rows (" << unlabelled << " unlabelled, " << not_selected
      << " outside the model's where, " << invalid << " invalid lines)\n";
  out << "train:      " << train.examples.size() << " rows, " << train.positives << " positive, "
      << format_rfc3339_ms(train.from) << " .. " << format_rfc3339_ms(train.to);
  if (label_time_slot) out << " (" << label_too_late << " left out: label known after the cut-off)";
  out << "\nvalidation: " << validation.examples.size() << " rows, " << validation.positives << " positive, from "
      << format_rfc3339_ms(cut) << "\n\n";
  std::string metrics_json;
  if (validation.examples.empty()) {
    out << "no validation rows (nothing at or after the cut-off)\n";
  } else {
    std::snprintf(line, sizeof line, "%-28s %10s %10s %10s\n", "validation slice", "precision", "recall", "flagged");
    out << line;
    std::snprintf(line, sizeof line, "%-28s PR-AUC %.4f  ROC-AUC %.4f  (base rate %.4f)\n", "model", ap, roc,
                  base_rate);
    out << line;
    metrics_json += "\"pr_auc\":" + figure(ap) + ",\"roc_auc\":" + figure(roc) + ",\"base_rate\":" + figure(base_rate);
    metrics_json += ",\"thresholds\":[";
    bool first = true;
    for (double t : {0.1, 0.3, 0.5, 0.7, 0.9}) {
      ThresholdFigures f = at_threshold(scored, t);
      std::snprintf(line, sizeof line, "  model >= %-17.1f %10.3f %10.3f %10zu\n", t, f.precision, f.recall, f.flagged);
      out << line;
      metrics_json += std::string(first ? "" : ",") + "{\"threshold\":" + figure(t) +
                      ",\"precision\":" + figure(f.precision) + ",\"recall\":" + figure(f.recall) + "}";
      first = false;
    }
    double rf_p = ratio(rules_flagged_tp, rules_flagged), rf_r = ratio(rules_flagged_tp, validation.positives);
    double rd_p = ratio(rules_declined_tp, rules_declined), rd_r = ratio(rules_declined_tp, validation.positives);
    std::snprintf(line, sizeof line, "%-28s %10.3f %10.3f %10zu\n", "rules: review or decline", rf_p, rf_r,
                  rules_flagged);
    out << line;
    std::snprintf(line, sizeof line, "%-28s %10.3f %10.3f %10zu\n", "rules: decline", rd_p, rd_r, rules_declined);
    out << line;
    metrics_json += "],\"rules_flagged\":{\"precision\":" + figure(rf_p) + ",\"recall\":" + figure(rf_r) +
                    "},\"rules_declined\":{\"precision\":" + figure(rd_p) + ",\"recall\":" + figure(rd_r) + "}";
  }

  // 5. The model and its sidecar.
  std::ofstream model_out(out_path, std::ios::binary | std::ios::trunc);
  model_out << json << "\n";  // a text file (a ConfigMap keeps it byte for byte)
  if (!model_out.flush()) {
    err << "cannot write " << out_path.string() << "\n";
    return 1;
  }
  std::string side = "{\"model\":";
  append_json_string(side, o.model);
  side += ",\"format\":\"xgboost-json\",\"objective\":\"binary:logistic\",\"inputs\":[";
  for (std::size_t k = 0; k < nf; ++k) {
    if (k) side += ",";
    append_json_string(side, model.inputs[k].text);
  }
  side += "],\"label\":";
  append_json_string(side, o.label);
  side += ",\"label_time\":";
  if (o.label_time) {
    append_json_string(side, *o.label_time);
  } else {
    side += "null";
  }
  side += ",\"parameters\":{\"rounds\":" + std::to_string(o.params.rounds) +
          ",\"max_depth\":" + std::to_string(o.params.max_depth) +
          ",\"learning_rate\":" + figure(o.params.learning_rate) +
          ",\"tree_method\":\"hist\",\"seed\":" + std::to_string(o.params.seed) + "}";
  side += ",\"validate_from_ms\":" + std::to_string(cut);
  side += ",\"train\":{\"rows\":" + std::to_string(train.examples.size()) +
          ",\"positives\":" + std::to_string(train.positives) + ",\"from_ms\":" + std::to_string(train.from) +
          ",\"to_ms\":" + std::to_string(train.to) + ",\"left_out_label_time\":" + std::to_string(label_too_late) + "}";
  side += ",\"validation\":{\"rows\":" + std::to_string(validation.examples.size()) +
          ",\"positives\":" + std::to_string(validation.positives) + "}";
  side += ",\"rules_version\":\"" + rules.version + "\",\"data_sha256\":\"" + data.hex_digest() + "\"";
  side += ",\"metrics\":{" + metrics_json + "}}\n";
  std::ofstream side_out(training_sidecar_path(out_path), std::ios::trunc);
  side_out << side;
  out << "\nwrote " << out_path.string() << " and " << training_sidecar_path(out_path).string() << "\n";
  return side_out.flush() ? 0 : 1;
}

}  // namespace fraud

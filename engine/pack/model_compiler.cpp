#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

namespace {

bool unsupported(const std::string& why) {
  return why.starts_with("objective '") || why.starts_with("booster '") || why.starts_with("multi-") ||
         why.find("categorical") != std::string::npos || why.find("output groups") != std::string::npos;
}

}  // namespace

bool PackCompiler::load_model_file(const Item& item, ModelDef& model) {
  const YAML::Node key = item.node["file"];
  FileText text = read_list_file_ ? read_list_file_(model.file) : FileText(std::nullopt);
  if (!text.ok) {
    error_at("E601", item.file, key, "cannot read model file '" + model.file + "': " + text.error);
    return false;
  }
  model_file_texts_.emplace_back(model.file, std::move(text.text));
  const std::string& json = model_file_texts_.back().second;
  auto parsed = TreeEnsemble::from_xgboost_json(json);
  if (auto* why = std::get_if<std::string>(&parsed)) {
    error_at(unsupported(*why) ? "E603" : "E602", item.file, key,
             "model file '" + model.file + "' is not a usable XGBoost JSON model: " + *why);
    return false;
  }
  auto trees = std::make_shared<const TreeEnsemble>(std::get<TreeEnsemble>(std::move(parsed)));
  // libxgboost validates it too (and explains with it when asked to).
  auto booster = XgbBooster::from_json(json);
  if (auto* why = std::get_if<std::string>(&booster)) {
    error_at("E602", item.file, key, "model file '" + model.file + "' is refused by XGBoost: " + *why);
    return false;
  }
  if (trees->num_features() != model.inputs.size()) {
    error_at("E604", item.file, key,
             "model file '" + model.file + "' has " + std::to_string(trees->num_features()) +
                 " features, but 'inputs' lists " + std::to_string(model.inputs.size()) +
                 " (one input per feature, in the model's order)");
    return false;
  }
  model.trees = std::move(trees);
  if (model.explain_shap) {
    model.shap = std::make_shared<ShapExplainer>();
    model.shap->booster = std::get<std::unique_ptr<XgbBooster>>(std::move(booster));
  }
  return true;
}

void PackCompiler::compile_models() {
  for (const auto& item : models_) {
    ModelDef m;
    m.name = item.name;
    bool ok = true;
    if (auto f = string_key(item, "file", true)) {
      if (!inside_pack(*f)) {
        error_at("E103", item.file, item.node["file"], "file must be a path inside the pack directory");
        ok = false;
      }
      m.file = *f;
    } else {
      ok = false;
    }
    if (auto where = string_key(item, "where", false)) {
      Compiled c = compile_where(item, *where);
      ok &= c.ok;
      if (c.ok) m.where_node = c.node;
    }
    const YAML::Node inputs = item.node["inputs"];
    if (!inputs) {
      error_at("E102", item.file, item.node, "model '" + item.name + "' needs 'inputs' (in the model's feature order)");
      ok = false;
    } else if (!inputs.IsSequence() || inputs.size() == 0) {
      error_at("E103", item.file, inputs, "inputs must be a list of expressions, like [amount, ids_per_device_24h]");
      ok = false;
    } else {
      for (const auto& in : inputs) {
        if (!in.IsScalar()) {
          error_at("E103", item.file, in, "each input must be an expression (a feature, a field or a formula)");
          ok = false;
          continue;
        }
        input_texts_.push_back(std::make_unique<std::string>(in.Scalar()));
        ExprSite site{item.file, in.Mark(), *input_texts_.back(), 0};
        Scope scope{&site};
        scope.in_model_input = true;
        Compiled c = compile_value(site, scope, "input");
        ok &= c.ok;
        m.inputs.push_back({in.Scalar(), c.node});
      }
    }
    if (const YAML::Node e = item.node["explain"]) {
      Value v = e.IsScalar() ? yaml_scalar_value(e) : Value::null();
      if (!v.is_number() || v.number < 0 || v.number != static_cast<double>(static_cast<std::uint32_t>(v.number)) ||
          v.number > static_cast<double>(std::max<std::size_t>(m.inputs.size(), 1))) {
        error_at(
            "E607", item.file, e,
            "explain must be a whole number from 0 to the number of inputs (" + std::to_string(m.inputs.size()) + ")");
        ok = false;
      } else {
        m.explain = static_cast<std::uint32_t>(v.number);
      }
    }
    if (auto method = string_key(item, "explain_method", false)) {
      if (*method == "shap") {
        m.explain_shap = true;
      } else if (*method != "approx") {
        error_at(
            "E607", item.file, item.node["explain_method"],
            "explain_method must be approx (per-path, the default) or shap (exact TreeSHAP), not '" + *method + "'");
        ok = false;
      }
    }
    // The model `fraudstream train` is making: its file is the output.
    bool training = options_.train_model && *options_.train_model == m.name;
    if (ok && !training) load_model_file(item, m);
    rs_->models.push_back(std::move(m));
  }
}

Compiled PackCompiler::compile_explain(const Expr& e, Scope& scope) {
  if (!scope.in_reason) {
    error("E608", pos_in(*scope.site, e.offset), "explain(model) is only for reason templates, like \"{explain(m)}\"");
    return fail();
  }
  auto named = e.args.size() == 1 && e.args[0]->kind == ExprKind::kPath ? names_.find(e.args[0]->text) : names_.end();
  if (named == names_.end() || named->second.kind != NameKind::kModel) {
    error("E608", pos_in(*scope.site, e.offset), "explain takes one argument, the name of a model of the pack");
    return fail();
  }
  Node n;
  n.op = NodeOp::kCall;
  n.function = Function::kExplain;
  n.index = named->second.index;
  return {add_node(n), SType::kString, true};
}

}  // namespace fraud::pack

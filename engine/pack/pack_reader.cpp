#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

bool PackCompiler::check_keys(int file, const YAML::Node& map, const std::vector<std::string>& allowed,
                              const char* what) {
  bool ok = true;
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      error_at("E101", file, it->first, std::string("keys of ") + what + " must be plain names");
      ok = false;
      continue;
    }
    const std::string key = it->first.Scalar();
    if (!seen.insert(key).second) {
      error_at("E104", file, it->first, "duplicate key '" + key + "' in " + what);
      ok = false;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string allowed_list;
      for (const auto& a : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + a;
      error_at("E101", file, it->first,
               "unknown key '" + key + "' in " + what + did_you_mean(key, allowed) + "; allowed: " + allowed_list);
      ok = false;
    }
  }
  return ok;
}

void PackCompiler::read_file(int file) {
  YAML::Node root;
  try {
    root = load_bounded_yaml(files_[file].text);
  } catch (const YAML::ParserException& e) {
    error("E001", {files_[file].path, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
    return;
  } catch (const YAML::Exception& e) {
    error("E001", {files_[file].path, e.mark.line + 1, e.mark.column + 1}, std::string("YAML error: ") + e.what());
    return;
  }
  if (!root || root.IsNull()) return;  // an empty file is fine
  if (!root.IsMap()) {
    error_at("E103", file, root,
             "a rule file must be a map with sections settings, lists, macros, features, models, rules");
    return;
  }
  check_keys(file, root, {"settings", "lists", "macros", "features", "models", "rules"}, "a rule file");
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string key = it->first.Scalar();  // copies: `it->` is a proxy that dies with the statement
    const YAML::Node value = it->second;
    if (key == "settings") {
      if (settings_file_ >= 0) {
        error_at(
            "E202", file, it->first,
            "settings are already defined in " + files_[settings_file_].path + "; at most one file may hold settings");
        continue;
      }
      if (!value.IsMap()) {
        error_at("E103", file, value, "settings must be a map");
        continue;
      }
      settings_file_ = file;
      settings_ = value;
      continue;
    }
    std::vector<Item>* target = nullptr;
    NameKind kind = NameKind::kRule;
    std::vector<std::string> allowed;
    if (key == "lists") {
      target = &lists_;
      kind = NameKind::kList;
      allowed = {"name", "description", "items", "file"};
    } else if (key == "macros") {
      target = &macros_;
      kind = NameKind::kMacro;
      allowed = {"name", "description", "condition"};
    } else if (key == "features") {
      target = &features_;
      kind = NameKind::kFeature;
      allowed = {"name",   "description", "agg",   "of",         "by",
                 "window", "resolution",  "where", "max_values", "max_lateness"};
    } else if (key == "models") {
      target = &models_;
      kind = NameKind::kModel;
      allowed = {"name", "description", "file", "where", "inputs", "explain", "explain_method"};
    } else if (key == "rules") {
      target = &rules_;
      kind = NameKind::kRule;
      allowed = {"name", "description", "when", "score", "decision", "reason", "mode", "tags", "enabled"};
    } else {
      continue;  // reported by check_keys
    }
    if (value.IsNull()) continue;
    if (!value.IsSequence()) {
      error_at("E103", file, value, key + " must be a list of items (each starting with '- name:')");
      continue;
    }
    for (const auto& item : value) {
      std::string what = std::string("a ") + kind_word(kind);
      if (!item.IsMap()) {
        error_at("E103", file, item, "each of " + key + " must be a map with at least 'name'");
        continue;
      }
      check_keys(file, item, allowed, what.c_str());
      const YAML::Node name = item["name"];
      if (!name) {
        error_at("E102", file, item, what + " needs a 'name'");
        continue;
      }
      if (!name.IsScalar() || !is_identifier(name.Scalar())) {
        error_at("E105", file, name,
                 "invalid name '" + (name.IsScalar() ? name.Scalar() : std::string("?")) +
                     "': use letters, digits and '_', not starting with a digit, not a keyword");
        continue;
      }
      const std::string& n = name.Scalar();
      bool is_function =
          std::any_of(std::begin(kFunctions), std::end(kFunctions), [&](const FunctionSpec& f) { return n == f.name; });
      if (is_function && kind != NameKind::kRule) {
        error_at("E105", file, name, "'" + n + "' is a function name and cannot name a " + kind_word(kind));
        continue;
      }
      auto [it2, inserted] =
          names_.emplace(n, NameEntry{kind, static_cast<std::uint32_t>(target->size()), file, name.Mark()});
      if (!inserted) {
        SourcePos first = pos_of(it2->second.file, it2->second.mark);
        error_at("E201", file, name,
                 "duplicate name '" + n + "': already defined as a " + kind_word(it2->second.kind) + " at " +
                     first.file + ":" + std::to_string(first.line) + ":" + std::to_string(first.col));
        // Still compiled below, so its own mistakes are reported too.
      }
      target->push_back({file, item, n, name.Mark()});
    }
  }
}

}  // namespace fraud::pack

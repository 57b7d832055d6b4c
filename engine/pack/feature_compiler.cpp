#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

void PackCompiler::compile_settings() {
  if (settings_file_ < 0) return;
  int file = settings_file_;
  check_keys(file, settings_, {"score_thresholds", "max_future", "max_lateness"}, "settings");
  for (auto [key, out] :
       {std::pair{"max_future", &rs_->max_future_ms}, std::pair{"max_lateness", &rs_->max_lateness_ms}}) {
    const YAML::Node d = settings_[key];
    if (!d) continue;
    auto ms = d.IsScalar() ? parse_duration_ms(d.Scalar()) : std::nullopt;
    if (!ms) {
      error_at("E401", file, d,
               std::string("bad duration for ") + key + ": write a whole number and one unit of s, m, h, d");
    } else {
      *out = *ms;
    }
  }
  const YAML::Node t = settings_["score_thresholds"];
  if (!t) return;
  if (!t.IsMap()) {
    error_at("E103", file, t, "score_thresholds must be a map like {review: 50, decline: 80}");
    return;
  }
  check_keys(file, t, {"review", "decline"}, "score_thresholds");
  if (t["review"]) {
    if (auto v = number_node(file, t["review"], "score_thresholds.review")) rs_->thresholds.review = *v;
  }
  if (t["decline"]) {
    if (auto v = number_node(file, t["decline"], "score_thresholds.decline")) rs_->thresholds.decline = *v;
  }
  if (rs_->thresholds.review > rs_->thresholds.decline) {
    error_at("E504", file, t, "score_thresholds.review must not be above decline");
  }
}

void PackCompiler::compile_lists() {
  for (const auto& item : lists_) {
    ListSet set;
    const YAML::Node items = item.node["items"];
    const YAML::Node file = item.node["file"];
    if (!items && !file) {
      error_at("E102", item.file, item.node, "list '" + item.name + "' needs 'items' or 'file'");
    }
    if (items && !items.IsNull()) {
      if (!items.IsSequence()) {
        error_at("E103", item.file, items, "items must be a list like [\"a\", \"b\"]");
      } else {
        for (const auto& v : items) {
          if (!v.IsScalar()) {
            error_at("E103", item.file, v, "list items must be strings, numbers or booleans");
            continue;
          }
          set.add(yaml_scalar_value(v));
        }
      }
    }
    if (file) {
      if (!file.IsScalar() || !inside_pack(file.Scalar())) {
        error_at("E103", item.file, file, "file must be a file name inside the pack directory");
      } else {
        FileText text = read_list_file_ ? read_list_file_(file.Scalar()) : FileText(std::nullopt);
        if (!text.ok) {
          error_at("E002", item.file, file, "cannot read list file '" + file.Scalar() + "': " + text.error);
        } else {
          list_file_texts_.emplace_back(file.Scalar(), std::move(text.text));
          std::istringstream in(list_file_texts_.back().second);
          std::string line;
          while (std::getline(in, line)) {
            auto b = line.find_first_not_of(" \t\r");
            if (b == std::string::npos || line[b] == '#') continue;
            auto e = line.find_last_not_of(" \t\r");
            set.add(Value::of_string(std::string_view(line).substr(b, e - b + 1)));
          }
        }
      }
    }
    rs_->lists.push_back(std::move(set));
    rs_->list_names.push_back(item.name);
  }
}

bool PackCompiler::valid_path(const std::string& p) {
  if (p.empty()) return false;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = p.find('.', start);
    std::string seg = p.substr(start, dot == std::string::npos ? dot : dot - start);
    if (seg.empty() || !(std::isalpha(static_cast<unsigned char>(seg[0])) || seg[0] == '_')) return false;
    for (char c : seg) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
    }
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

std::optional<std::int64_t> PackCompiler::duration_key(const Item& item, const char* key, bool required) {
  auto text = string_key(item, key, required);
  if (!text) return std::nullopt;
  auto ms = parse_duration_ms(*text);
  if (!ms) {
    error_at("E401", item.file, item.node[key],
             "bad duration '" + *text + "': write a whole number and one unit of s, m, h, d (e.g. 24h)");
  }
  return ms;
}

Compiled PackCompiler::compile_where(const Item& item, const std::string& text) {
  macro_texts_.push_back(std::make_unique<std::string>(text));
  ExprSite site{item.file, item.node["where"].Mark(), *macro_texts_.back(), 0};
  Scope scope{&site};
  scope.in_where = true;
  return compile_condition(site, scope, "where");
}

void PackCompiler::compile_features() {
  for (const auto& item : features_) {
    FeatureDef f;
    f.name = item.name;
    bool ok = true;
    // Two features of one pack never share state, even if defined alike.
    std::string fp = "name=" + item.name + ";";
    if (auto agg = string_key(item, "agg", true)) {
      static const std::vector<std::string> aggs = {"count", "sum", "min", "max", "avg", "distinct"};
      auto pos = std::find(aggs.begin(), aggs.end(), *agg);
      if (pos == aggs.end()) {
        error_at("E403", item.file, item.node["agg"],
                 "unknown aggregation '" + *agg + "'" + did_you_mean(*agg, aggs) +
                     "; use count, sum, min, max, avg or distinct");
        ok = false;
      } else {
        f.agg = static_cast<Aggregation>(pos - aggs.begin());
      }
      fp += "agg=" + *agg;
    } else {
      ok = false;
    }
    if (auto of = string_key(item, "of", false)) {
      if (ok && f.agg == Aggregation::kCount) {
        warning("W303", pos_of(item.file, item.node["of"].Mark()), "'of' is not used by count");
      } else if (!valid_path(*of)) {
        error_at("E405", item.file, item.node["of"], "'of' must be a field path like amount or device.id");
        ok = false;
      } else {
        if (names_.count(*of) && names_.at(*of).kind != NameKind::kRule) {
          warning("W306", pos_of(item.file, item.node["of"].Mark()),
                  "'of' always reads the event field '" + *of + "', not the " + kind_word(names_.at(*of).kind) +
                      " of that name");
        }
        f.of_slot = rs_->fields.intern(*of);
        fp += ";of=" + *of;
      }
    } else if (ok && f.agg != Aggregation::kCount) {
      error_at("E404", item.file, item.node,
               "feature '" + item.name + "' with agg " + std::string(aggregation_name(f.agg)) +
                   " needs 'of' (the field to aggregate)");
      ok = false;
    }
    const YAML::Node by = item.node["by"];
    if (!by || by.IsNull()) {
      error_at("E102", item.file, item.node, "feature '" + item.name + "' needs 'by' (the entity key)");
      ok = false;
    } else {
      std::vector<YAML::Node> parts;
      if (by.IsScalar()) {
        parts.push_back(by);
      } else if (by.IsSequence() && by.size() > 0) {
        for (const auto& p : by) parts.push_back(p);
      } else {
        error_at("E405", item.file, by, "'by' must be a field path or a list of field paths");
        ok = false;
      }
      for (const auto& p : parts) {
        if (!p.IsScalar() || !valid_path(p.Scalar())) {
          error_at("E405", item.file, p, "'by' must name field paths like device_id or device.id");
          ok = false;
          continue;
        }
        f.by_slots.push_back(rs_->fields.intern(p.Scalar()));
        fp += ";by=" + p.Scalar();
      }
    }
    auto window = duration_key(item, "window", true);
    auto resolution = duration_key(item, "resolution", false);
    if (window) {
      f.window_ms = *window;
      if (item.node["resolution"]) {
        if (resolution) {
          if (*resolution > *window || *window % *resolution != 0) {
            error_at("E402", item.file, item.node["resolution"],
                     "window " + item.node["window"].Scalar() + " is not a whole multiple of resolution " +
                         item.node["resolution"].Scalar());
            ok = false;
          } else {
            f.resolution_ms = *resolution;
          }
        } else {
          ok = false;
        }
      } else if (*window % 60 != 0) {
        error_at("E406", item.file, item.node["window"],
                 "the default resolution (window/60) is not a whole number of milliseconds; set 'resolution'");
        ok = false;
      } else {
        f.resolution_ms = *window / 60;
      }
      if (f.resolution_ms > 0 && f.buckets() > kMaxWindowBuckets) {
        error("E407", pos_of(item.file, item.node["window"].Mark()),
              "window has " + std::to_string(f.buckets()) + " buckets of its resolution; the limit is " +
                  std::to_string(kMaxWindowBuckets) + " (memory per key grows with it): use a coarser resolution");
        ok = false;
      } else if (f.resolution_ms > 0 && f.buckets() > 1'440) {
        warning("W401", pos_of(item.file, item.node["window"].Mark()),
                "window has " + std::to_string(f.buckets()) + " buckets; a coarser resolution keeps state small");
      }
    } else {
      ok = false;
    }
    fp += ";window=" + std::to_string(f.window_ms) + ";resolution=" + std::to_string(f.resolution_ms);
    // Lateness changes how long buckets are kept, not what a bucket holds:
    // not part of the fingerprint, so tuning it keeps the state.
    std::int64_t lateness = rs_->max_lateness_ms;
    if (item.node["max_lateness"]) {
      if (auto ms = duration_key(item, "max_lateness", false))
        lateness = *ms;
      else
        ok = false;
    }
    if (f.resolution_ms > 0) {
      f.late_buckets = (lateness + f.resolution_ms - 1) / f.resolution_ms;
      if (f.late_buckets > kMaxWindowBuckets) {
        const char* at = item.node["max_lateness"] ? "max_lateness" : "window";
        error_at("E409", item.file, item.node[at],
                 "max_lateness is " + std::to_string(f.late_buckets) + " buckets of " + item.name +
                     "'s resolution; the limit is " + std::to_string(kMaxWindowBuckets) +
                     " (a key keeps window + max_lateness): use a coarser resolution or a shorter max_lateness");
        ok = false;
      }
    }
    if (const YAML::Node mv = item.node["max_values"]) {
      auto v = number_node(item.file, mv, "max_values");
      if (f.agg != Aggregation::kDistinct) {
        error_at("E408", item.file, mv, "max_values is only for distinct features");
        ok = false;
      } else if (v && (*v < 1 || *v > FeatureDef::kMaxMaxValues || *v != static_cast<std::uint32_t>(*v))) {
        error_at("E408", item.file, mv,
                 "max_values must be a whole number from 1 to " + std::to_string(FeatureDef::kMaxMaxValues));
        ok = false;
      } else if (v) {
        f.max_values = static_cast<std::uint32_t>(*v);
        fp += ";max_values=" + std::to_string(f.max_values);
      }
    }
    if (auto where = string_key(item, "where", false)) {
      Compiled c = compile_where(item, *where);
      if (c.ok) {
        f.where_node = c.node;
      } else {
        ok = false;
      }
      fp += ";where=" + *where;
      // A macro's text is part of the definition: changing it changes the feature.
      fp += ";macros=" + macro_fingerprint(c.node);
    }
    f.fingerprint = sha256_hex(fp).substr(0, 16);
    (void)ok;
    rs_->features.push_back(std::move(f));
  }
}

}  // namespace fraud::pack

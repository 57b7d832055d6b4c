#include "engine/pack_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <list>
#include <map>
#include <set>
#include <tuple>
#include <span>
#include <unordered_map>
#include <sstream>

#include "engine/expr_parser.h"
#include "engine/sha256.h"
#include "engine/time_text.h"
#include "engine/yaml_value.h"

namespace fraud {

namespace {

enum class SType { kAny, kNull, kBool, kNumber, kString, kList };

const char* type_word(SType t) {
  switch (t) {
    case SType::kAny: return "a value";
    case SType::kNull: return "null";
    case SType::kBool: return "true/false";
    case SType::kNumber: return "a number";
    case SType::kString: return "a string";
    case SType::kList: return "a list";
  }
  return "a value";
}

struct FunctionSpec {
  const char* name;
  Function fn;
  int arity;
  SType arg;     // expected type of every argument (kAny: anything)
  SType result;
};

constexpr FunctionSpec kFunctions[] = {
    {"exists", Function::kExists, 1, SType::kAny, SType::kBool},
    {"lower", Function::kLower, 1, SType::kString, SType::kString},
    {"upper", Function::kUpper, 1, SType::kString, SType::kString},
    {"len", Function::kLen, 1, SType::kString, SType::kNumber},
    {"abs", Function::kAbs, 1, SType::kNumber, SType::kNumber},
    {"min", Function::kMin, 2, SType::kNumber, SType::kNumber},
    {"max", Function::kMax, 2, SType::kNumber, SType::kNumber},
    {"starts_with", Function::kStartsWith, 2, SType::kString, SType::kBool},
    {"ends_with", Function::kEndsWith, 2, SType::kString, SType::kBool},
    {"contains", Function::kContains, 2, SType::kString, SType::kBool},
    {"hour_of_day", Function::kHourOfDay, 2, SType::kNumber, SType::kNumber},
    {"geo_km", Function::kGeoKm, 4, SType::kNumber, SType::kNumber},
};

enum class NameKind { kList, kMacro, kFeature, kRule };

const char* kind_word(NameKind k) {
  switch (k) {
    case NameKind::kList: return "list";
    case NameKind::kMacro: return "macro";
    case NameKind::kFeature: return "feature";
    case NameKind::kRule: return "rule";
  }
  return "name";
}

struct NameEntry {
  NameKind kind;
  std::uint32_t index;
  int file;
  YAML::Mark mark;
};

// A YAML item of a section, remembered with its file.
struct Item {
  int file;
  YAML::Node node;
  std::string name;
  YAML::Mark name_mark;
};

// Where an expression's text came from, to turn offsets into file:line:col.
struct ExprSite {
  int file = 0;
  YAML::Mark mark;
  std::string_view text;
  std::uint32_t base = 0;  // offset of this expression inside `text`
};

struct Compiled {
  std::uint32_t node = 0;
  SType type = SType::kAny;
  bool ok = true;
};

struct MacroState {
  int status = 0;  // 0 new, 1 compiling, 2 done, 3 failed
  Compiled result;
  bool uses_features = false;
  std::string first_feature;
  int level = 1;  // 1 + the deepest level of the macros it uses
};

class PackCompiler {
 public:
  PackCompiler(const std::vector<SourceFile>& files, const ListFileReader& read_list_file,
               const PackLoadOptions& options, Diagnostics& diag)
      : files_(files), read_list_file_(read_list_file), options_(options), diag_(diag) {
    for (const auto& f : files_) {
      std::vector<std::size_t> starts{0};
      for (std::size_t i = 0; i < f.text.size(); ++i) {
        if (f.text[i] == '\n') starts.push_back(i + 1);
      }
      line_starts_.push_back(std::move(starts));
    }
  }

  std::shared_ptr<RuleSet> run() {
    rs_ = std::make_shared<RuleSet>();
    for (const auto& path : options_.extra_fields) rs_->fields.intern(path);
    for (int i = 0; i < static_cast<int>(files_.size()); ++i) read_file(i);
    compile_settings();
    compile_lists();
    macro_states_.resize(macros_.size());
    compile_features();
    for (std::uint32_t i = 0; i < macros_.size(); ++i) compile_macro(i, nullptr);
    compile_rules();
    if (diag_.has_errors()) return nullptr;
    build_indexes();
    compute_version();
    return rs_;
  }

 private:
  // ---- positions and reporting -------------------------------------------

  SourcePos pos_at_offset(int file, std::size_t offset) const {
    const auto& starts = line_starts_[file];
    auto it = std::upper_bound(starts.begin(), starts.end(), offset);
    std::size_t line = static_cast<std::size_t>(it - starts.begin());  // 1-based
    std::size_t start = starts[line - 1];
    int col = 1;
    const std::string& text = files_[file].text;
    for (std::size_t i = start; i < offset && i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
    }
    return {files_[file].path, static_cast<int>(line), col};
  }

  SourcePos pos_of(int file, const YAML::Mark& m) const {
    if (m.pos < 0) return {files_[file].path, m.line + 1, m.column + 1};
    return pos_at_offset(file, static_cast<std::size_t>(m.pos));
  }

  std::string snippet(const SourcePos& p) const {
    for (std::size_t i = 0; i < files_.size(); ++i) {
      if (files_[i].path != p.file || p.line <= 0) continue;
      const auto& starts = line_starts_[i];
      if (static_cast<std::size_t>(p.line) > starts.size()) return {};
      std::size_t s = starts[p.line - 1];
      std::size_t e = files_[i].text.find('\n', s);
      std::string line = files_[i].text.substr(s, e == std::string::npos ? e : e - s);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    return {};
  }

  void error(const char* code, SourcePos p, std::string msg) {
    std::string snip = snippet(p);
    diag_.error(code, std::move(p), std::move(msg), std::move(snip));
  }
  void warning(const char* code, SourcePos p, std::string msg) {
    std::string snip = snippet(p);
    diag_.warning(code, std::move(p), std::move(msg), std::move(snip));
  }
  void error_at(const char* code, int file, const YAML::Node& n, std::string msg) {
    error(code, pos_of(file, n.Mark()), std::move(msg));
  }

  // Maps an offset inside a scalar's parsed value to the file position by
  // walking the raw text alongside the value (handles quotes, folding and
  // block scalars; escapes are approximated).
  SourcePos pos_in(const ExprSite& site, std::uint32_t offset) const {
    const std::string& raw = files_[site.file].text;
    if (site.mark.pos < 0) return pos_of(site.file, site.mark);
    std::size_t j = static_cast<std::size_t>(site.mark.pos);
    if (j < raw.size() && (raw[j] == '"' || raw[j] == '\'')) {
      ++j;
    } else if (j < raw.size() && (raw[j] == '|' || raw[j] == '>')) {
      std::size_t nl = raw.find('\n', j);
      j = nl == std::string::npos ? raw.size() : nl + 1;
    }
    std::size_t target = site.base + offset;
    std::size_t k = 0;
    while (k < target && k < site.text.size() && j < raw.size()) {
      if (raw[j] == site.text[k]) {
        ++k;
      }
      ++j;
    }
    while (j < raw.size() && k < site.text.size() && raw[j] != site.text[k] &&
           (raw[j] == ' ' || raw[j] == '\n' || raw[j] == '\r' || raw[j] == '\t')) {
      ++j;
    }
    return pos_at_offset(site.file, j);
  }

  std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
      std::size_t d = edit_distance(word, c);
      if (d < best_d) {
        best_d = d;
        best = c;
      }
    }
    return best.empty() ? std::string() : " (did you mean '" + best + "'?)";
  }

  // ---- stage 1: read and collect -----------------------------------------

  bool check_keys(int file, const YAML::Node& map, const std::vector<std::string>& allowed,
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
                 "unknown key '" + key + "' in " + what + did_you_mean(key, allowed) +
                     "; allowed: " + allowed_list);
        ok = false;
      }
    }
    return ok;
  }

  void read_file(int file) {
    YAML::Node root;
    try {
      root = load_bounded_yaml(files_[file].text);
    } catch (const YAML::ParserException& e) {
      error("E001", {files_[file].path, e.mark.line + 1, e.mark.column + 1},
            "YAML syntax error: " + e.msg);
      return;
    } catch (const YAML::Exception& e) {
      error("E001", {files_[file].path, e.mark.line + 1, e.mark.column + 1},
            std::string("YAML error: ") + e.what());
      return;
    }
    if (!root || root.IsNull()) return;  // an empty file is fine
    if (!root.IsMap()) {
      error_at("E103", file, root,
               "a rule file must be a map with sections settings, lists, macros, features, rules");
      return;
    }
    check_keys(file, root, {"settings", "lists", "macros", "features", "rules"}, "a rule file");
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      const std::string key = it->first.Scalar();  // copies: `it->` is a proxy that dies with the statement
      const YAML::Node value = it->second;
      if (key == "settings") {
        if (settings_file_ >= 0) {
          error_at("E202", file, it->first,
                   "settings are already defined in " + files_[settings_file_].path +
                       "; at most one file may hold settings");
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
        allowed = {"name",       "description", "agg",   "of",         "by",
                   "window",     "resolution",  "where", "max_values", "max_lateness"};
      } else if (key == "rules") {
        target = &rules_;
        kind = NameKind::kRule;
        allowed = {"name", "description", "when", "score", "decision", "reason", "mode", "tags",
                   "enabled"};
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
        bool is_function = std::any_of(std::begin(kFunctions), std::end(kFunctions),
                                       [&](const FunctionSpec& f) { return n == f.name; });
        if (is_function && kind != NameKind::kRule) {
          error_at("E105", file, name, "'" + n + "' is a function name and cannot name a " +
                                           kind_word(kind));
          continue;
        }
        auto [it2, inserted] = names_.emplace(
            n, NameEntry{kind, static_cast<std::uint32_t>(target->size()), file, name.Mark()});
        if (!inserted) {
          SourcePos first = pos_of(it2->second.file, it2->second.mark);
          error_at("E201", file, name,
                   "duplicate name '" + n + "': already defined as a " + kind_word(it2->second.kind) +
                       " at " + first.file + ":" + std::to_string(first.line) + ":" +
                       std::to_string(first.col));
          // Still compiled below, so its own mistakes are reported too.
        }
        target->push_back({file, item, n, name.Mark()});
      }
    }
  }

  // ---- helpers for typed keys ---------------------------------------------

  std::optional<std::string> string_key(const Item& item, const char* key, bool required) {
    const YAML::Node n = item.node[key];
    if (!n || n.IsNull()) {
      if (required) {
        error_at("E102", item.file, item.node,
                 "'" + item.name + "' needs '" + key + "'");
      }
      return std::nullopt;
    }
    if (!n.IsScalar()) {
      error_at("E103", item.file, n, std::string("'") + key + "' must be a single value");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<double> number_node(int file, const YAML::Node& n, const char* what) {
    if (n.IsScalar()) {
      Value v = yaml_scalar_value(n);
      if (v.is_number()) return v.number;
    }
    error_at("E503", file, n, std::string(what) + " must be a number");
    return std::nullopt;
  }

  // ---- stage 2: compile ---------------------------------------------------

  void compile_settings() {
    if (settings_file_ < 0) return;
    int file = settings_file_;
    check_keys(file, settings_, {"score_thresholds", "max_future", "max_lateness"}, "settings");
    for (auto [key, out] : {std::pair{"max_future", &rs_->max_future_ms}, std::pair{"max_lateness", &rs_->max_lateness_ms}}) {
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

  void compile_lists() {
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
        if (!file.IsScalar() || file.Scalar().empty() || file.Scalar().find("..") != std::string::npos ||
            file.Scalar()[0] == '/') {
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

  std::uint32_t add_node(Node n, std::initializer_list<std::uint32_t> children = {}) {
    return add_node(n, std::span<const std::uint32_t>(children.begin(), children.size()));
  }

  // Every node goes through here: its depth and size are tracked with it.
  std::uint32_t add_node(Node n, std::span<const std::uint32_t> children) {
    n.args_begin = static_cast<std::uint32_t>(rs_->args.size());
    n.args_count = static_cast<std::uint32_t>(children.size());
    std::uint32_t depth = 1;
    std::uint64_t size = 1;
    for (auto c : children) {
      rs_->args.push_back(c);
      depth = std::max(depth, node_depth_[c] + 1);
      size = std::min<std::uint64_t>(size + node_size_[c], std::uint64_t{1} << 40);
    }
    rs_->nodes.push_back(n);
    node_depth_.push_back(depth);
    node_size_.push_back(size);
    return static_cast<std::uint32_t>(rs_->nodes.size() - 1);
  }

  std::uint32_t const_node(Value v) {
    if (v.kind == ValueKind::kString) {
      rs_->strings.push_back(std::make_unique<std::string>(v.text));
      v.text = *rs_->strings.back();
    }
    Node n;
    n.op = NodeOp::kConst;
    n.constant = v;
    return add_node(n);
  }

  static SType literal_type(const Value& v) {
    switch (v.kind) {
      case ValueKind::kNull: return SType::kNull;
      case ValueKind::kBool: return SType::kBool;
      case ValueKind::kNumber: return SType::kNumber;
      case ValueKind::kString: return SType::kString;
      default: return SType::kAny;
    }
  }

  struct Scope {
    const ExprSite* site;
    bool in_where = false;           // features may not be read
    std::string macro_chain;         // for cycle messages
    MacroState* macro = nullptr;     // set while compiling a macro body
    int macro_depth = 0;             // macros being compiled around this scope
  };

  Compiled fail() { return {const_node(Value::null()), SType::kAny, false}; }

  std::vector<std::string> declared_names(std::initializer_list<NameKind> kinds) const {
    std::vector<std::string> out;
    for (const auto& [n, e] : names_) {
      if (std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end()) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Compiled compile_expr(const Expr& e, Scope& scope) {
    const ExprSite& site = *scope.site;
    auto here = [&](std::uint32_t off) { return pos_in(site, off); };
    switch (e.kind) {
      case ExprKind::kLiteral: return {const_node(e.literal), literal_type(e.literal), true};
      case ExprKind::kListLit:
        error("E307", here(e.offset), "a list literal can only be used after 'in'");
        return fail();
      case ExprKind::kPath: return compile_name(e, scope);
      case ExprKind::kCall: return compile_call(e, scope);
      case ExprKind::kNot:
      case ExprKind::kAnd:
      case ExprKind::kOr: {
        std::vector<std::uint32_t> kids;
        bool ok = true;
        for (const auto& a : e.args) {
          Compiled c = compile_expr(*a, scope);
          ok &= c.ok;
          if (c.ok && c.type != SType::kAny && c.type != SType::kBool) {
            const char* op = e.kind == ExprKind::kNot ? "not" : e.kind == ExprKind::kAnd ? "and" : "or";
            error("E306", here(a->offset),
                  std::string("'") + op + "' needs true/false, but this is " + type_word(c.type));
            ok = false;
          }
          kids.push_back(c.node);
        }
        Node n;
        n.op = e.kind == ExprKind::kNot ? NodeOp::kNot : e.kind == ExprKind::kAnd ? NodeOp::kAnd : NodeOp::kOr;
        std::uint32_t id = kids.size() == 1 ? add_node(n, {kids[0]}) : add_node(n, {kids[0], kids[1]});
        return {id, SType::kBool, ok};
      }
      case ExprKind::kNeg: {
        Compiled c = compile_expr(*e.args[0], scope);
        bool ok = c.ok && check_numeric(c, *e.args[0], "unary '-'", scope);
        Node n;
        n.op = NodeOp::kNeg;
        return {add_node(n, {c.node}), SType::kNumber, ok};
      }
      case ExprKind::kAdd:
      case ExprKind::kSub:
      case ExprKind::kMul:
      case ExprKind::kDiv:
      case ExprKind::kMod: {
        static const std::map<ExprKind, std::pair<NodeOp, const char*>> ops = {
            {ExprKind::kAdd, {NodeOp::kAdd, "'+'"}}, {ExprKind::kSub, {NodeOp::kSub, "'-'"}},
            {ExprKind::kMul, {NodeOp::kMul, "'*'"}}, {ExprKind::kDiv, {NodeOp::kDiv, "'/'"}},
            {ExprKind::kMod, {NodeOp::kMod, "'%'"}}};
        auto [op, word] = ops.at(e.kind);
        Compiled l = compile_expr(*e.args[0], scope);
        Compiled r = compile_expr(*e.args[1], scope);
        bool ok = l.ok && r.ok;
        ok = (l.ok ? check_numeric(l, *e.args[0], word, scope) : false) && ok;
        ok = (r.ok ? check_numeric(r, *e.args[1], word, scope) : false) && ok;
        Node n;
        n.op = op;
        return {add_node(n, {l.node, r.node}), SType::kNumber, ok};
      }
      case ExprKind::kEq:
      case ExprKind::kNe:
      case ExprKind::kLt:
      case ExprKind::kLe:
      case ExprKind::kGt:
      case ExprKind::kGe: return compile_comparison(e, scope);
      case ExprKind::kIn:
      case ExprKind::kNotIn: return compile_in(e, scope);
    }
    return fail();
  }

  bool check_numeric(const Compiled& c, const Expr& e, const char* op, Scope& scope) {
    if (c.type == SType::kString || c.type == SType::kBool || c.type == SType::kList) {
      error("E305", pos_in(*scope.site, e.offset),
            std::string(op) + " needs numbers, but this is " + type_word(c.type));
      return false;
    }
    if (c.type == SType::kNull) {
      warning("W305", pos_in(*scope.site, e.offset),
              std::string(op) + " with null always gives null");
    }
    return true;
  }

  Compiled compile_comparison(const Expr& e, Scope& scope) {
    const Expr& le = *e.args[0];
    const Expr& re = *e.args[1];
    Compiled l = compile_expr(le, scope);
    Compiled r = compile_expr(re, scope);
    bool ok = l.ok && r.ok;
    bool equality = e.kind == ExprKind::kEq || e.kind == ExprKind::kNe;
    bool l_null = le.kind == ExprKind::kLiteral && le.literal.is_null();
    bool r_null = re.kind == ExprKind::kLiteral && re.literal.is_null();
    if (equality && (l_null || r_null)) {
      Node n;
      n.op = e.kind == ExprKind::kEq ? NodeOp::kIsNull : NodeOp::kNotNull;
      std::uint32_t operand = l_null ? r.node : l.node;
      return {add_node(n, {operand}), SType::kBool, ok};
    }
    if (ok && (l_null || r_null)) {
      warning("W305", pos_in(*scope.site, e.offset),
              "ordering against null is always false; use '== null' or '!= null'");
    } else if (ok && l.type != SType::kAny && r.type != SType::kAny && l.type != r.type) {
      warning("W302", pos_in(*scope.site, e.offset),
              std::string("comparing ") + type_word(l.type) + " with " + type_word(r.type) +
                  " is always false");
    } else if (ok && !equality && (l.type == SType::kBool || r.type == SType::kBool)) {
      warning("W302", pos_in(*scope.site, e.offset), "ordering true/false values is always false");
    }
    Node n;
    switch (e.kind) {
      case ExprKind::kEq: n.op = NodeOp::kEq; break;
      case ExprKind::kNe: n.op = NodeOp::kNe; break;
      case ExprKind::kLt: n.op = NodeOp::kLt; break;
      case ExprKind::kLe: n.op = NodeOp::kLe; break;
      case ExprKind::kGt: n.op = NodeOp::kGt; break;
      default: n.op = NodeOp::kGe; break;
    }
    return {add_node(n, {l.node, r.node}), SType::kBool, ok};
  }

  Compiled compile_in(const Expr& e, Scope& scope) {
    Compiled l = compile_expr(*e.args[0], scope);
    bool ok = l.ok;
    const Expr& right = *e.args[1];
    std::uint32_t list_id = 0;
    if (right.kind == ExprKind::kListLit) {
      ListSet set;
      for (const auto& item : right.items) set.add(item->literal);
      rs_->lists.push_back(std::move(set));
      list_id = static_cast<std::uint32_t>(rs_->lists.size() - 1);
    } else {
      auto it = names_.find(right.text);
      if (it != names_.end() && it->second.kind == NameKind::kList) {
        list_id = it->second.index;
      } else {
        if (it != names_.end()) {
          error("E308", pos_in(*scope.site, right.offset),
                "'" + right.text + "' is a " + kind_word(it->second.kind) +
                    ", not a list; 'in' needs a list name or [..]");
        } else {
          error("E308", pos_in(*scope.site, right.offset),
                "unknown list '" + right.text + "'" +
                    did_you_mean(right.text, declared_names({NameKind::kList})));
        }
        return fail();
      }
    }
    Node n;
    n.op = e.kind == ExprKind::kIn ? NodeOp::kIn : NodeOp::kNotIn;
    n.index = list_id;
    return {add_node(n, {l.node}), SType::kBool, ok};
  }

  Compiled compile_call(const Expr& e, Scope& scope) {
    const FunctionSpec* spec = nullptr;
    for (const auto& f : kFunctions) {
      if (e.text == f.name) spec = &f;
    }
    if (!spec) {
      std::vector<std::string> names;
      for (const auto& f : kFunctions) names.emplace_back(f.name);
      error("E303", pos_in(*scope.site, e.offset),
            "unknown function '" + e.text + "'" + did_you_mean(e.text, names));
      return fail();
    }
    if (static_cast<int>(e.args.size()) != spec->arity) {
      error("E304", pos_in(*scope.site, e.offset),
            "'" + e.text + "' takes " + std::to_string(spec->arity) + " argument(s), got " +
                std::to_string(e.args.size()));
      return fail();
    }
    bool ok = true;
    std::vector<std::uint32_t> kids;
    for (const auto& a : e.args) {
      Compiled c = compile_expr(*a, scope);
      ok &= c.ok;
      if (c.ok && spec->arg != SType::kAny && c.type != SType::kAny && c.type != SType::kNull &&
          c.type != spec->arg) {
        error("E305", pos_in(*scope.site, a->offset),
              "'" + e.text + "' needs " + type_word(spec->arg) + ", but this is " + type_word(c.type));
        ok = false;
      }
      kids.push_back(c.node);
    }
    Node n;
    n.op = NodeOp::kCall;
    n.function = spec->fn;
    return {add_node(n, std::span<const std::uint32_t>(kids)), spec->result, ok};
  }

  Compiled compile_name(const Expr& e, Scope& scope) {
    auto it = e.text.find('.') == std::string::npos ? names_.find(e.text) : names_.end();
    // Rule names are not values: a bare name equal to a rule name reads the
    // event field of that name (RULES.md: only lists, macros, features).
    if (it != names_.end() && it->second.kind == NameKind::kRule) it = names_.end();
    if (it == names_.end()) {
      if (e.text.find('.') == std::string::npos) {
        // One lookup per distinct field name (compile time stays linear in
        // the pack: a field read by every rule is not compared again).
        auto cached = field_hints_.find(e.text);
        if (cached == field_hints_.end()) {
          if (!value_names_) value_names_ = declared_names({NameKind::kMacro, NameKind::kFeature});
          cached = field_hints_.emplace(e.text, did_you_mean(e.text, *value_names_)).first;
        }
        const std::string& hint = cached->second;
        if (!hint.empty()) {
          warning("W301", pos_in(*scope.site, e.offset),
                  "'" + e.text + "' is not declared, so it reads the event field '" + e.text + "'" + hint);
        }
      }
      Node n;
      n.op = NodeOp::kField;
      n.index = rs_->fields.intern(e.text);
      return {add_node(n), SType::kAny, true};
    }
    const NameEntry& entry = it->second;
    switch (entry.kind) {
      case NameKind::kList:
        error("E307", pos_in(*scope.site, e.offset),
              "list '" + e.text + "' can only be used after 'in' / 'not in'");
        return fail();
      case NameKind::kRule: break;  // handled above
      case NameKind::kFeature: {
        if (scope.in_where) {
          error("E309", pos_in(*scope.site, e.offset),
                "a 'where' may not read features, but '" + e.text + "' is a feature");
          return fail();
        }
        if (scope.macro) {
          scope.macro->uses_features = true;
          if (scope.macro->first_feature.empty()) scope.macro->first_feature = e.text;
        }
        Node n;
        n.op = NodeOp::kFeature;
        n.index = entry.index;
        return {add_node(n), SType::kNumber, true};
      }
      case NameKind::kMacro: {
        Compiled c = compile_macro(entry.index, &scope, &e);
        MacroState& st = macro_states_[entry.index];
        if (!c.ok) return {c.node, c.type, false};
        if (scope.in_where && st.uses_features) {
          error("E309", pos_in(*scope.site, e.offset),
                "a 'where' may not read features, but macro '" + e.text + "' reads feature '" +
                    st.first_feature + "'");
          return fail();
        }
        if (scope.macro && st.uses_features) {
          scope.macro->uses_features = true;
          if (scope.macro->first_feature.empty()) scope.macro->first_feature = st.first_feature;
        }
        if (scope.macro) scope.macro->level = std::max(scope.macro->level, st.level + 1);
        return c;
      }
    }
    return fail();
  }

  // Compiles macro `index` once; `from` is the referencing scope (cycle report).
  Compiled compile_macro(std::uint32_t index, Scope* from, const Expr* ref = nullptr) {
    MacroState& st = macro_states_[index];
    const Item& item = macros_[index];
    if (st.status == 2) return st.result;
    if (st.status == 3) return {const_node(Value::null()), SType::kAny, false};
    if (st.status == 1) {
      std::string chain = from ? from->macro_chain : std::string();
      SourcePos p = (from && ref) ? pos_in(*from->site, ref->offset) : pos_of(item.file, item.name_mark);
      error("E310", p, "macro cycle: " + chain + " -> " + item.name);
      st.status = 3;
      return {const_node(Value::null()), SType::kAny, false};
    }
    if (from && from->macro_depth >= kMaxMacroNesting) {
      SourcePos p = ref ? pos_in(*from->site, ref->offset) : pos_of(item.file, item.name_mark);
      error("E311", p, "macros nest more than " + std::to_string(kMaxMacroNesting) + " levels deep: " +
                           from->macro_chain + " -> " + item.name);
      return {const_node(Value::null()), SType::kAny, false};  // not cached: another path may be shallower
    }
    st.status = 1;
    auto text = string_key(item, "condition", true);
    if (!text) {
      st.status = 3;
      return {const_node(Value::null()), SType::kAny, false};
    }
    macro_texts_.push_back(std::make_unique<std::string>(*text));
    ExprSite site{item.file, item.node["condition"].Mark(), *macro_texts_.back(), 0};
    Scope scope{&site};
    scope.macro_chain = (from && !from->macro_chain.empty() ? from->macro_chain + " -> " : "") + item.name;
    scope.macro_depth = from ? from->macro_depth + 1 : 1;
    MacroState local;
    scope.macro = &local;
    Compiled c = compile_condition(site, scope, "condition");
    if (st.status == 3) return {const_node(Value::null()), SType::kAny, false};  // a cycle through it
    st.uses_features = local.uses_features;
    st.first_feature = local.first_feature;
    st.level = local.level;
    if (c.ok && local.level > kMaxMacroNesting) {
      error("E311", pos_of(item.file, item.name_mark),
            "macros nest more than " + std::to_string(kMaxMacroNesting) + " levels deep: '" + item.name +
                "' uses macros " + std::to_string(local.level - 1) + " levels deep");
      c.ok = false;
    }
    st.result = c;
    st.status = c.ok ? 2 : 3;
    return c;
  }

  Compiled compile_condition(const ExprSite& site, Scope& scope, const char* what) {
    ExprSyntaxError err;
    auto expr = parse_expression(site.text, err);
    if (!expr) {
      error("E301", pos_in(site, err.offset), "syntax error in " + std::string(what) + ": " + err.message);
      return fail();
    }
    Compiled c = compile_expr(*expr, scope);
    if (c.ok && node_depth_[c.node] > kMaxCompiledDepth) {
      error("E311", pos_in(site, expr->offset),
            std::string(what) + " is " + std::to_string(node_depth_[c.node]) +
                " operations deep with its macros; the limit is " + std::to_string(kMaxCompiledDepth));
      c.ok = false;
    } else if (c.ok && node_size_[c.node] > kMaxCompiledOperations) {
      error("E311", pos_in(site, expr->offset),
            std::string(what) + " expands to " + std::to_string(node_size_[c.node]) +
                " operations with its macros (each use of a macro evaluates it again); the limit is " +
                std::to_string(kMaxCompiledOperations));
      c.ok = false;
    }
    if (c.ok && c.type != SType::kAny && c.type != SType::kBool) {
      error("E306", pos_in(site, expr->offset),
            std::string(what) + " must be true/false, but this is " + type_word(c.type));
      c.ok = false;
    }
    return c;
  }

  static bool valid_path(const std::string& p) {
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

  std::optional<std::int64_t> duration_key(const Item& item, const char* key, bool required) {
    auto text = string_key(item, key, required);
    if (!text) return std::nullopt;
    auto ms = parse_duration_ms(*text);
    if (!ms) {
      error_at("E401", item.file, item.node[key],
               "bad duration '" + *text + "': write a whole number and one unit of s, m, h, d (e.g. 24h)");
    }
    return ms;
  }

  void compile_features() {
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
                    "'of' always reads the event field '" + *of + "', not the " +
                        kind_word(names_.at(*of).kind) + " of that name");
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
                  "window has " + std::to_string(f.buckets()) +
                      " buckets; a coarser resolution keeps state small");
        }
      } else {
        ok = false;
      }
      fp += ";window=" + std::to_string(f.window_ms) + ";resolution=" + std::to_string(f.resolution_ms);
      // Lateness changes how long buckets are kept, not what a bucket holds:
      // not part of the fingerprint, so tuning it keeps the state.
      std::int64_t lateness = rs_->max_lateness_ms;
      if (item.node["max_lateness"]) {
        if (auto ms = duration_key(item, "max_lateness", false)) lateness = *ms;
        else ok = false;
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
        macro_texts_.push_back(std::make_unique<std::string>(*where));
        ExprSite site{item.file, item.node["where"].Mark(), *macro_texts_.back(), 0};
        Scope scope{&site};
        scope.in_where = true;
        Compiled c = compile_condition(site, scope, "where");
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

  // Structural text of a compiled expression, so a feature whose `where`
  // reads a macro changes fingerprint when the macro changes.
  std::string macro_fingerprint(std::uint32_t node) {
    std::string out;
    std::vector<std::uint32_t> stack{node};
    while (!stack.empty()) {
      std::uint32_t i = stack.back();
      stack.pop_back();
      const Node& n = rs_->nodes[i];
      out += std::to_string(static_cast<int>(n.op)) + ":" + std::to_string(n.index) + ":";
      if (n.op == NodeOp::kConst) append_json_text(out, n.constant);
      if (n.op == NodeOp::kField) out += rs_->fields.path(n.index);
      if (n.op == NodeOp::kIn || n.op == NodeOp::kNotIn) out += "list" + std::to_string(n.index);
      out += ";";
      for (std::uint32_t k = 0; k < n.args_count; ++k) stack.push_back(rs_->args[n.args_begin + k]);
    }
    return sha256_hex(out).substr(0, 16);
  }

  void compile_reason(const Item& item, const std::string& text, RuleDef& rule, bool& ok) {
    reason_texts_.push_back(std::make_unique<std::string>(text));
    const std::string& t = *reason_texts_.back();
    const YAML::Mark mark = item.node["reason"].Mark();
    std::string literal;
    std::size_t i = 0;
    while (i < t.size()) {
      char c = t[i];
      if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
        literal.push_back('{');
        i += 2;
        continue;
      }
      if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
        literal.push_back('}');
        i += 2;
        continue;
      }
      if (c == '}') {
        error("E505", pos_in({item.file, mark, t, 0}, static_cast<std::uint32_t>(i)),
              "unmatched '}' in reason (write '}}' for a literal brace)");
        ok = false;
        ++i;
        continue;
      }
      if (c != '{') {
        literal.push_back(c);
        ++i;
        continue;
      }
      std::size_t close = t.find('}', i + 1);
      if (close == std::string::npos) {
        error("E505", pos_in({item.file, mark, t, 0}, static_cast<std::uint32_t>(i)),
              "unclosed '{' in reason (write '{{' for a literal brace)");
        ok = false;
        break;
      }
      std::string inner = t.substr(i + 1, close - i - 1);
      reason_texts_.push_back(std::make_unique<std::string>(inner));
      ExprSite site{item.file, mark, t, static_cast<std::uint32_t>(i + 1)};
      ExprSyntaxError err;
      auto expr = parse_expression(inner, err);
      if (!expr) {
        error("E505", pos_in(site, err.offset), "bad placeholder in reason: " + err.message);
        ok = false;
      } else {
        Scope scope{&site};
        Compiled c = compile_expr(*expr, scope);
        if (!c.ok) {
          ok = false;
        } else {
          rule.reason.push_back({literal, c.node});
          literal.clear();
        }
      }
      i = close + 1;
    }
    if (!literal.empty()) rule.reason.push_back({literal, std::nullopt});
    rule.has_reason = true;
  }

  void compile_rules() {
    for (const auto& item : rules_) {
      RuleDef rule;
      rule.name = item.name;
      bool ok = true;
      bool enabled = true;
      if (auto d = string_key(item, "description", false)) rule.description = *d;
      if (const YAML::Node en = item.node["enabled"]) {
        Value v = en.IsScalar() ? yaml_scalar_value(en) : Value::null();
        if (v.kind != ValueKind::kBool) {
          error_at("E103", item.file, en, "enabled must be true or false");
          ok = false;
        } else {
          enabled = v.boolean;
        }
      }
      if (auto when = string_key(item, "when", true)) {
        macro_texts_.push_back(std::make_unique<std::string>(*when));
        ExprSite site{item.file, item.node["when"].Mark(), *macro_texts_.back(), 0};
        Scope scope{&site};
        Compiled c = compile_condition(site, scope, "when");
        ok &= c.ok;
        rule.when_node = c.node;
      } else {
        ok = false;
      }
      if (const YAML::Node s = item.node["score"]) {
        if (auto v = number_node(item.file, s, "score")) {
          rule.score = *v;
        } else {
          ok = false;
        }
      }
      if (auto d = string_key(item, "decision", false)) {
        rule.decision = parse_decision(*d);
        if (!rule.decision) {
          error_at("E501", item.file, item.node["decision"],
                   "decision must be allow, review or decline, not '" + *d + "'");
          ok = false;
        }
      }
      if (auto m = string_key(item, "mode", false)) {
        if (*m == "shadow") {
          rule.shadow = true;
        } else if (*m != "enforce") {
          error_at("E502", item.file, item.node["mode"], "mode must be enforce or shadow, not '" + *m + "'");
          ok = false;
        }
      }
      if (const YAML::Node tags = item.node["tags"]) {
        if (!tags.IsSequence()) {
          error_at("E103", item.file, tags, "tags must be a list like [device, identity]");
        } else {
          for (const auto& t : tags) {
            if (!t.IsScalar()) {
              error_at("E103", item.file, t, "each tag must be a word");
              continue;
            }
            rule.tags.push_back(t.Scalar());
          }
        }
      }
      if (auto r = string_key(item, "reason", false)) {
        compile_reason(item, *r, rule, ok);
      } else {
        warning("W304", pos_of(item.file, item.name_mark),
                "rule '" + item.name + "' has no reason; verdicts will not explain it");
      }
      if (ok && enabled) rs_->rules.push_back(std::move(rule));
    }
  }

  // ---- indexes ------------------------------------------------------------

  void collect_features(std::uint32_t node, std::vector<char>& seen_nodes, std::set<std::uint32_t>& out) const {
    if (seen_nodes[node]) return;
    seen_nodes[node] = 1;
    const Node& n = rs_->nodes[node];
    if (n.op == NodeOp::kFeature) out.insert(n.index);
    for (std::uint32_t k = 0; k < n.args_count; ++k) collect_features(rs_->args[n.args_begin + k], seen_nodes, out);
  }

  // The conjuncts of an expression: the operands of its `and`s, nested
  // `and`s (macros included) flattened.
  void conjuncts(std::uint32_t node, std::vector<std::uint32_t>& out) const {
    const Node& n = rs_->nodes[node];
    if (n.op == NodeOp::kAnd) {
      conjuncts(rs_->args[n.args_begin], out);
      conjuncts(rs_->args[n.args_begin + 1], out);
    } else {
      out.push_back(node);
    }
  }

  // Event types an expression can be true for; nullopt = any type.
  std::optional<std::set<std::string>> type_constraint(std::uint32_t node) const {
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
      default: return std::nullopt;
    }
  }

  void build_indexes() {
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
      std::set<std::uint32_t> feats;
      collect_features(rule.when_node, seen, feats);
      for (const auto& part : rule.reason) {
        if (part.node) collect_features(*part.node, seen, feats);
      }
      rule.features_read.assign(feats.begin(), feats.end());
      rule_types.push_back(type_constraint(rule.when_node));
      if (rule_types.back()) all_types.insert(rule_types.back()->begin(), rule_types.back()->end());
      std::vector<std::uint32_t> parts;
      conjuncts(rule.when_node, parts);
      for (std::uint32_t node : parts) {
        std::vector<char> seen_part(rs.nodes.size(), 0);
        std::set<std::uint32_t> reads;
        collect_features(node, seen_part, reads);
        if (reads.empty()) feature_free[r].push_back({node, type_constraint(node)});
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

  void compute_version() {
    // The version depends on file names and contents only, never on where
    // the pack directory is mounted.
    std::vector<std::tuple<std::string, std::string, const std::string*>> parts;
    for (const auto& f : files_) parts.emplace_back(f.path.substr(f.path.find_last_of('/') + 1), f.path, &f.text);
    for (const auto& [name, text] : list_file_texts_) parts.emplace_back("list:" + name, "list:" + name, &text);
    std::sort(parts.begin(), parts.end());
    Sha256 whole;
    for (const auto& [base, path, text] : parts) {
      whole.update(base);
      whole.update(std::string_view("\0", 1));
      whole.update(*text);
      whole.update(std::string_view("\0", 1));
      rs_->files.push_back({path, sha256_hex(*text)});
    }
    rs_->version = whole.hex_digest();
  }

  const std::vector<SourceFile>& files_;
  const ListFileReader& read_list_file_;
  const PackLoadOptions& options_;
  Diagnostics& diag_;
  std::vector<std::vector<std::size_t>> line_starts_;
  std::shared_ptr<RuleSet> rs_;
  std::map<std::string, NameEntry> names_;
  std::vector<Item> lists_, macros_, features_, rules_;
  int settings_file_ = -1;
  YAML::Node settings_;
  std::vector<MacroState> macro_states_;
  std::vector<std::uint32_t> node_depth_;  // by node: the longest path to a leaf (evaluation recursion)
  std::vector<std::uint64_t> node_size_;   // by node: operations one evaluation may visit (saturating)
  std::optional<std::vector<std::string>> value_names_;        // macros and features, sorted (hints)
  std::unordered_map<std::string, std::string> field_hints_;  // undeclared name -> its W301 hint
  std::vector<std::unique_ptr<std::string>> macro_texts_, reason_texts_;
  std::list<std::pair<std::string, std::string>> list_file_texts_;
};

}  // namespace

PackLoadResult compile_pack(const std::vector<SourceFile>& files, const ListFileReader& read_list_file,
                            const PackLoadOptions& options) {
  PackLoadResult result;
  PackCompiler compiler(files, read_list_file, options, result.diagnostics);
  std::shared_ptr<RuleSet> rs = compiler.run();
  result.diagnostics.sort();
  if (rs && !result.diagnostics.has_errors()) result.rules = std::move(rs);
  return result;
}

PackLoadResult load_pack_directory(const std::filesystem::path& dir, const PackLoadOptions& options) {
  namespace fs = std::filesystem;
  std::vector<SourceFile> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    PackLoadResult r;
    r.diagnostics.error("E002", {dir.string(), 0, 0}, "not a directory: " + dir.string());
    return r;
  }
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (!(name.ends_with(".yaml") || name.ends_with(".yml"))) continue;
    if (!fs::is_regular_file(entry.path(), ec)) continue;  // follows ConfigMap symlinks
    paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  PackLoadResult failed;
  if (paths.size() > kMaxPackFiles) {
    failed.diagnostics.error("E002", {dir.string(), 0, 0},
                             std::to_string(paths.size()) + " rule files; the limit is " +
                                 std::to_string(kMaxPackFiles));
    return failed;
  }
  for (const auto& p : paths) {
    FileText text = read_bounded_file(p, kMaxPackFileBytes);
    if (!text.ok) {
      failed.diagnostics.error("E002", {p.string(), 1, 1}, "cannot read file: " + text.error);
      continue;
    }
    files.push_back({p.string(), std::move(text.text)});
  }
  if (failed.diagnostics.has_errors()) return failed;
  if (files.empty()) {
    PackLoadResult r;
    r.diagnostics.error("E002", {dir.string(), 0, 0}, "no *.yaml rule files in " + dir.string());
    return r;
  }
  ListFileReader reader = [dir](const std::string& name) { return read_bounded_file(dir / name, kMaxListFileBytes); };
  return compile_pack(files, reader, options);
}

}  // namespace fraud

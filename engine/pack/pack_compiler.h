// PackCompiler: the rule-pack compiler behind compile_pack (pack_loader.h),
// in stages, each in its own file (Falco's rule_loader split):
//   pack_reader.cpp       read YAML files, collect items by section and name
//   feature_compiler.cpp  settings, lists, features (windows, lateness, caps)
//   expr_compiler.cpp     expressions -> typed nodes (names, calls, macros)
//   rule_compiler.cpp     rules and reason templates
//   type_index.cpp        per-event-type plans (which features and rules apply)
//   pack_version.cpp      rules_version from file names and contents
//   pack_compiler.cpp     positions, diagnostics, typed-key helpers
// Internal to the engine: include pack_loader.h instead.
#pragma once

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <fstream>
#include <list>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include "engine/expr_parser.h"
#include "engine/sha256.h"
#include "engine/time_text.h"
#include "engine/yaml_value.h"

#include "engine/pack_loader.h"

namespace fraud::pack {

enum class SType { kAny, kNull, kBool, kNumber, kString, kList };

inline const char* type_word(SType t) {
  switch (t) {
    case SType::kAny:
      return "a value";
    case SType::kNull:
      return "null";
    case SType::kBool:
      return "true/false";
    case SType::kNumber:
      return "a number";
    case SType::kString:
      return "a string";
    case SType::kList:
      return "a list";
  }
  return "a value";
}

struct FunctionSpec {
  const char* name;
  Function fn;
  int arity;
  SType arg;  // expected type of every argument (kAny: anything)
  SType result;
};

inline constexpr FunctionSpec kFunctions[] = {
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

enum class NameKind { kList, kMacro, kFeature, kModel, kRule };

inline const char* kind_word(NameKind k) {
  switch (k) {
    case NameKind::kList:
      return "list";
    case NameKind::kMacro:
      return "macro";
    case NameKind::kFeature:
      return "feature";
    case NameKind::kModel:
      return "model";
    case NameKind::kRule:
      return "rule";
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
  std::string first_model;  // a model it reads (empty: none)
  int level = 1;            // 1 + the deepest level of the macros it uses
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
    compile_models();
    compile_rules();
    if (diag_.has_errors()) return nullptr;
    build_indexes();
    compute_version();
    return rs_;
  }

 private:
  // ---- positions and reporting -------------------------------------------

  SourcePos pos_at_offset(int file, std::size_t offset) const;

  SourcePos pos_of(int file, const YAML::Mark& m) const;

  std::string snippet(const SourcePos& p) const;

  void error(const char* code, SourcePos p, std::string msg);
  void warning(const char* code, SourcePos p, std::string msg);
  void error_at(const char* code, int file, const YAML::Node& n, std::string msg);

  // Maps an offset inside a scalar's parsed value to the file position by
  // walking the raw text alongside the value (handles quotes, folding and
  // block scalars; escapes are approximated).
  SourcePos pos_in(const ExprSite& site, std::uint32_t offset) const;

  std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

  // ---- stage 1: read and collect -----------------------------------------

  bool check_keys(int file, const YAML::Node& map, const std::vector<std::string>& allowed, const char* what);

  void read_file(int file);

  // ---- helpers for typed keys ---------------------------------------------

  std::optional<std::string> string_key(const Item& item, const char* key, bool required);

  std::optional<double> number_node(int file, const YAML::Node& n, const char* what);

  // ---- stage 2: compile ---------------------------------------------------

  void compile_settings();

  void compile_lists();

  std::uint32_t add_node(Node n, std::initializer_list<std::uint32_t> children = {});

  // Every node goes through here: its depth and size are tracked with it.
  std::uint32_t add_node(Node n, std::span<const std::uint32_t> children);

  std::uint32_t const_node(Value v);

  static SType literal_type(const Value& v);

  struct Scope {
    const ExprSite* site;
    bool in_where = false;        // features and models may not be read
    bool in_model_input = false;  // models may not be read
    bool in_reason = false;       // explain(model) may be used
    std::string macro_chain;      // for cycle messages
    MacroState* macro = nullptr;  // set while compiling a macro body
    int macro_depth = 0;          // macros being compiled around this scope
  };

  Compiled fail() { return {const_node(Value::null()), SType::kAny, false}; }

  std::vector<std::string> declared_names(std::initializer_list<NameKind> kinds) const;

  Compiled compile_expr(const Expr& e, Scope& scope);

  bool check_numeric(const Compiled& c, const Expr& e, const char* op, Scope& scope);

  Compiled compile_comparison(const Expr& e, Scope& scope);

  Compiled compile_in(const Expr& e, Scope& scope);

  Compiled compile_call(const Expr& e, Scope& scope);

  Compiled compile_name(const Expr& e, Scope& scope);

  // Compiles macro `index` once; `from` is the referencing scope (cycle report).
  Compiled compile_macro(std::uint32_t index, Scope* from, const Expr* ref = nullptr);

  // An expression of any type, within the compiled-size limits.
  Compiled compile_value(const ExprSite& site, Scope& scope, const char* what, std::uint32_t* offset = nullptr);
  // Same, and it must be true/false.
  Compiled compile_condition(const ExprSite& site, Scope& scope, const char* what);

  static bool valid_path(const std::string& p);

  // A file name a pack may reference (lists, models): inside its directory.
  static bool inside_pack(const std::string& name) {
    return !name.empty() && name.find("..") == std::string::npos && name[0] != '/';
  }

  // An item's `where` (a condition that reads no feature or model).
  Compiled compile_where(const Item& item, const std::string& text);

  std::optional<std::int64_t> duration_key(const Item& item, const char* key, bool required);

  void compile_features();

  // Structural text of a compiled expression, so a feature whose `where`
  // reads a macro changes fingerprint when the macro changes.
  std::string macro_fingerprint(std::uint32_t node);

  void compile_reason(const Item& item, const std::string& text, RuleDef& rule, bool& ok);

  // model_compiler.cpp: models (file, inputs, where, explain)
  void compile_models();
  bool load_model_file(const Item& item, ModelDef& model);
  Compiled compile_explain(const Expr& e, Scope& scope);

  void compile_rules();

  // ---- indexes ------------------------------------------------------------

  // Features an expression reads, through the inputs of models it reads too;
  // `models` (if given) collects the models.
  void collect_features(std::uint32_t node, std::vector<char>& seen_nodes, std::set<std::uint32_t>& out,
                        std::set<std::uint32_t>* models = nullptr) const;

  // The conjuncts of an expression: the operands of its `and`s, nested
  // `and`s (macros included) flattened.
  void conjuncts(std::uint32_t node, std::vector<std::uint32_t>& out) const;

  // Event types an expression can be true for; nullopt = any type.
  std::optional<std::set<std::string>> type_constraint(std::uint32_t node) const;

  void build_indexes();

  void compute_version();

  const std::vector<SourceFile>& files_;
  const ListFileReader& read_list_file_;
  const PackLoadOptions& options_;
  Diagnostics& diag_;
  std::vector<std::vector<std::size_t>> line_starts_;
  std::shared_ptr<RuleSet> rs_;
  std::map<std::string, NameEntry> names_;
  std::vector<Item> lists_, macros_, features_, models_, rules_;
  int settings_file_ = -1;
  YAML::Node settings_;
  std::vector<MacroState> macro_states_;
  std::vector<std::uint32_t> node_depth_;                // by node: the longest path to a leaf (evaluation recursion)
  std::vector<std::uint64_t> node_size_;                 // by node: operations one evaluation may visit (saturating)
  std::optional<std::vector<std::string>> value_names_;  // macros and features, sorted (hints)
  std::unordered_map<std::string, std::string> field_hints_;  // undeclared name -> its W301 hint
  std::vector<std::unique_ptr<std::string>> macro_texts_, reason_texts_;
  std::list<std::pair<std::string, std::string>> list_file_texts_;
  std::list<std::pair<std::string, std::string>> model_file_texts_;
  std::vector<std::unique_ptr<std::string>> input_texts_;
};

}  // namespace fraud::pack

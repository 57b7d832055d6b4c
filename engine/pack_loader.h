// PackLoader: turns a rule-pack directory into a RuleSet, in three stages
// (Falco's reader -> collector -> compiler):
//
//   read     each *.yaml / *.yml file of the directory, in name order, is
//            parsed as YAML; its sections are checked for shape and unknown
//            keys, with file:line:col on every node;
//   collect  names of lists, macros, features and rules are merged into one
//            namespace (duplicates are errors), settings appear at most once;
//   compile  expressions are parsed, names resolved, types checked, macro
//            cycles found, windows validated; rules and features are indexed
//            by event type.
//
// Every problem is reported (see diagnostics.h); a RuleSet is returned only
// when there is no error, so a broken pack can never replace a working one.
// Thread safety: the functions are reentrant; they share no state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/bounded_file.h"
#include "engine/diagnostics.h"
#include "engine/rule_set.h"

namespace fraud {

struct SourceFile {
  std::string path;  // as shown in diagnostics (the loader uses dir-relative names)
  std::string text;
};

struct PackLoadResult {
  std::shared_ptr<const RuleSet> rules;  // null when diagnostics has errors
  Diagnostics diagnostics;
  bool ok() const { return rules != nullptr; }
};

// Limits that keep a hostile pack from costing unbounded time or stack:
// macros referencing macros nest at most kMaxMacroNesting deep, and a
// compiled condition (its macros inlined) is at most kMaxCompiledDepth
// operations deep (the evaluator recurses that far) and visits at most
// kMaxCompiledOperations operations per evaluation (a macro used twice is
// evaluated twice, so macros of macros could grow exponentially). Expression limits are
// in expr_parser.h, file limits in bounded_file.h, YAML's in yaml_value.h.
inline constexpr int kMaxMacroNesting = 64;
inline constexpr std::uint32_t kMaxCompiledDepth = 1000;
inline constexpr std::uint64_t kMaxCompiledOperations = 100'000;
// window / resolution of a feature (and max_lateness / resolution); a key keeps
// window + max_lateness of buckets (RULES.md "Late events"), so this bounds
// memory per key.
inline constexpr std::int64_t kMaxWindowBuckets = 10'080;

// Reads a file the pack references, a list's (`lists: - file:`) or a
// model's (`models: - file:`), by its name inside the pack directory (ok
// false, with the reason, if it cannot: missing, not a regular file, too
// large).
using ListFileReader = std::function<FileText(const std::string& name)>;

// Options of a load beyond the pack's own files.
struct PackLoadOptions {
  // Event fields to parse even if no rule reads them (e.g. the label of a
  // backtest); look them up with RuleSet::fields.find().
  std::vector<std::string> extra_fields;
  // `fraudstream train`: the model being made; its file (the output) is
  // not read, and it is never scored.
  std::optional<std::string> train_model;
};

// Compiles an in-memory pack (unit tests, inline packs).
PackLoadResult compile_pack(const std::vector<SourceFile>& files, const ListFileReader& read_list_file = {},
                            const PackLoadOptions& options = {});

// Loads the pack in `dir`: top-level *.yaml/*.yml files (hidden names and
// the tests/ folder are skipped, so a Kubernetes ConfigMap mount works).
// Diagnostics name files as `<dir>/<file>`.
PackLoadResult load_pack_directory(const std::filesystem::path& dir, const PackLoadOptions& options = {});

}  // namespace fraud

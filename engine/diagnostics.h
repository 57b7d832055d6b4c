// Diagnostics: every problem found while loading a rule pack.
//
// Loading never stops at the first error (Falco's load-result style): each
// stage appends to a Diagnostics list and carries on where it safely can, so
// an analyst sees every mistake of a pack in one `fraudstream check` run.
// Each diagnostic has a stable code (documented in docs/rules.md), a
// severity, a 1-based file:line:col and the offending source line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fraud {

enum class Severity { kError, kWarning };

struct SourcePos {
  std::string file;  // path as given to the loader
  int line = 0;      // 1-based; 0 when the problem is about the whole pack
  int col = 0;       // 1-based
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // e.g. "E201"
  SourcePos pos;
  std::string message;  // one sentence, no trailing period
  std::string snippet;  // the source line, when known
};

class Diagnostics {
 public:
  void error(std::string code, SourcePos pos, std::string message, std::string snippet = {});
  void warning(std::string code, SourcePos pos, std::string message, std::string snippet = {});
  void add(Diagnostic d) { items_.push_back(std::move(d)); }

  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  std::size_t warning_count() const { return items_.size() - errors_; }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Orders by file, line, col (stable for equal positions).
  void sort();

  // Human form: "file:line:col: error[E201]: message", the source line and a
  // caret under the column, then a one-line total.
  std::string to_text() const;
  // {"errors": N, "warnings": N, "diagnostics": [{...}]}
  std::string to_json() const;

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
};

}  // namespace fraud

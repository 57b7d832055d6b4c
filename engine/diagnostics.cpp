#include "engine/diagnostics.h"

#include <algorithm>

#include "engine/value.h"

namespace fraud {

void Diagnostics::error(std::string code, SourcePos pos, std::string message, std::string snippet) {
  items_.push_back({Severity::kError, std::move(code), std::move(pos), std::move(message), std::move(snippet)});
  ++errors_;
}

void Diagnostics::warning(std::string code, SourcePos pos, std::string message, std::string snippet) {
  items_.push_back({Severity::kWarning, std::move(code), std::move(pos), std::move(message), std::move(snippet)});
}

void Diagnostics::sort() {
  std::stable_sort(items_.begin(), items_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.pos.file != b.pos.file) return a.pos.file < b.pos.file;
    if (a.pos.line != b.pos.line) return a.pos.line < b.pos.line;
    return a.pos.col < b.pos.col;
  });
}

std::string Diagnostics::to_text() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.pos.file.empty() ? std::string("<pack>") : d.pos.file;
    if (d.pos.line > 0) out += ":" + std::to_string(d.pos.line) + ":" + std::to_string(d.pos.col);
    out += d.severity == Severity::kError ? ": error[" : ": warning[";
    out += d.code + "]: " + d.message + "\n";
    if (!d.snippet.empty()) {
      out += "    " + d.snippet + "\n";
      if (d.pos.col > 0) {
        out += "    ";
        for (int i = 1; i < d.pos.col && i <= static_cast<int>(d.snippet.size()); ++i) {
          out.push_back(d.snippet[i - 1] == '\t' ? '\t' : ' ');
        }
        out += "^\n";
      }
    }
  }
  out += std::to_string(error_count()) + " error(s), " + std::to_string(warning_count()) + " warning(s)\n";
  return out;
}

std::string Diagnostics::to_json() const {
  std::string out = "{\"errors\":" + std::to_string(error_count()) +
                    ",\"warnings\":" + std::to_string(warning_count()) + ",\"diagnostics\":[";
  bool first = true;
  for (const auto& d : items_) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"severity\":";
    out += d.severity == Severity::kError ? "\"error\"" : "\"warning\"";
    out += ",\"code\":";
    append_json_string(out, d.code);
    out += ",\"file\":";
    append_json_string(out, d.pos.file);
    out += ",\"line\":" + std::to_string(d.pos.line) + ",\"col\":" + std::to_string(d.pos.col);
    out += ",\"message\":";
    append_json_string(out, d.message);
    out += ",\"snippet\":";
    append_json_string(out, d.snippet);
    out += "}";
  }
  out += "]}\n";
  return out;
}

}  // namespace fraud

#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

SourcePos PackCompiler::pos_at_offset(int file, std::size_t offset) const {
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

SourcePos PackCompiler::pos_of(int file, const YAML::Mark& m) const {
  if (m.pos < 0) return {files_[file].path, m.line + 1, m.column + 1};
  return pos_at_offset(file, static_cast<std::size_t>(m.pos));
}

std::string PackCompiler::snippet(const SourcePos& p) const {
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

void PackCompiler::error(const char* code, SourcePos p, std::string msg) {
  std::string snip = snippet(p);
  diag_.error(code, std::move(p), std::move(msg), std::move(snip));
}

void PackCompiler::warning(const char* code, SourcePos p, std::string msg) {
  std::string snip = snippet(p);
  diag_.warning(code, std::move(p), std::move(msg), std::move(snip));
}

void PackCompiler::error_at(const char* code, int file, const YAML::Node& n, std::string msg) {
  error(code, pos_of(file, n.Mark()), std::move(msg));
}

// Maps an offset inside a scalar's parsed value to the file position by
// walking the raw text alongside the value (handles quotes, folding and
// block scalars; escapes are approximated).
SourcePos PackCompiler::pos_in(const ExprSite& site, std::uint32_t offset) const {
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

std::string PackCompiler::did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
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

std::optional<std::string> PackCompiler::string_key(const Item& item, const char* key, bool required) {
  const YAML::Node n = item.node[key];
  if (!n || n.IsNull()) {
    if (required) {
      error_at("E102", item.file, item.node, "'" + item.name + "' needs '" + key + "'");
    }
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    error_at("E103", item.file, n, std::string("'") + key + "' must be a single value");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<double> PackCompiler::number_node(int file, const YAML::Node& n, const char* what) {
  if (n.IsScalar()) {
    Value v = yaml_scalar_value(n);
    if (v.is_number()) return v.number;
  }
  error_at("E503", file, n, std::string(what) + " must be a number");
  return std::nullopt;
}

}  // namespace fraud::pack

#include "engine/yaml_value.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace fraud {

bool yaml_tree_within(const YAML::Node& root, std::size_t max_nodes) {
  std::vector<YAML::Node> stack{root};
  std::size_t seen = 0;
  while (!stack.empty()) {
    YAML::Node n = stack.back();
    stack.pop_back();
    if (++seen > max_nodes) return false;
    if (n.IsSequence()) {
      for (const auto& c : n) stack.push_back(c);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        stack.push_back(kv.first);
        stack.push_back(kv.second);
      }
    }
  }
  return true;
}

YAML::Node load_bounded_yaml(const std::string& text) {
  YAML::Node root = YAML::Load(text);
  if (!yaml_tree_within(root)) {
    YAML::Mark start = YAML::Mark::null_mark();
    start.pos = start.line = start.column = 0;
    throw YAML::Exception(start, "the document expands to more than " + std::to_string(kMaxYamlNodes) +
                                     " YAML nodes (aliases of aliases?)");
  }
  return root;
}

namespace {

bool looks_numeric(const std::string& s, bool& integer) {
  if (s.empty()) return false;
  std::size_t i = 0;
  if (s[i] == '-' || s[i] == '+') ++i;
  std::size_t digits_start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  bool int_digits = i > digits_start;
  integer = true;
  if (i < s.size() && s[i] == '.') {
    integer = false;
    ++i;
    std::size_t f = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (!int_digits && i == f) return false;
  } else if (!int_digits) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    integer = false;
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    std::size_t e = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == e) return false;
  }
  return i == s.size();
}

}  // namespace

Value yaml_scalar_value(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return Value::of_string(s);
  if (s.empty() || s == "null" || s == "~" || s == "Null" || s == "NULL") return Value::null();
  if (s == "true" || s == "True" || s == "TRUE") return Value::of_bool(true);
  if (s == "false" || s == "False" || s == "FALSE") return Value::of_bool(false);
  bool integer = false;
  if (looks_numeric(s, integer)) return Value::of_number(std::strtod(s.c_str(), nullptr), integer);
  return Value::of_string(s);
}

void append_yaml_as_json(std::string& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      out.push_back('{');
      bool first = true;
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, it->first.Scalar());
        out.push_back(':');
        append_yaml_as_json(out, it->second);
      }
      out.push_back('}');
      return;
    }
    case YAML::NodeType::Sequence: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out.push_back(',');
        first = false;
        append_yaml_as_json(out, item);
      }
      out.push_back(']');
      return;
    }
    case YAML::NodeType::Scalar: {
      Value v = yaml_scalar_value(node);
      append_json_text(out, v);  // integers stay integers, floats keep a fraction
      return;
    }
    default:
      out.append("null");
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace fraud

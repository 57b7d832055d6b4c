// Conversion of YAML scalars and trees into the values of the rule language,
// shared by the pack loader and the rule-test runner. YAML typing rules of
// the core schema: a quoted scalar is always a string; a plain scalar is
// null (`null`, `~`, empty), a boolean (`true`/`false`), a number (decimal
// integer or float) or else a string.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "engine/value.h"

namespace fraud {

// Value of a scalar node. String values point into `node`'s own scalar.
Value yaml_scalar_value(const YAML::Node& node);

// Appends the JSON text of a YAML tree (maps, sequences, typed scalars).
void append_yaml_as_json(std::string& out, const YAML::Node& node);

// YAML aliases share nodes, so a small file can stand for an exponential
// tree (a "billion laughs" bomb). Every YAML document the engine reads is
// walked once with this budget before use: false when the tree, aliases
// expanded, has more than `max_nodes` nodes (iterative; stops at the budget).
inline constexpr std::size_t kMaxYamlNodes = 2'000'000;
bool yaml_tree_within(const YAML::Node& root, std::size_t max_nodes = kMaxYamlNodes);

// Parses a YAML document and applies yaml_tree_within; throws
// YAML::Exception (with a mark) like YAML::Load for either failure.
YAML::Node load_bounded_yaml(const std::string& text);

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace fraud

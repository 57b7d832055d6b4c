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

// Levenshtein distance, for "did you mean" hints.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace fraud

// Value: the dynamically typed value of the rule language.
//
// A Value never owns memory: strings and composite JSON text are views into
// the event that produced them, into the compiled RuleSet (literals), or into
// an EvalScratch arena. The owner must outlive the Value. Values are cheap to
// copy (32 bytes) and safe to share read-only across threads.
//
// Semantics follow RULES.md exactly:
//  - `null` is a value of its own; a missing field reads as null.
//  - Numbers are IEEE doubles and compare by value (1 == 1.0).
//  - Values of different kinds are never equal (and never unequal: both
//    `==` and `!=` are false), see `compare_values`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fraud {

enum class ValueKind : std::uint8_t {
  kNull,
  kBool,
  kNumber,
  kString,
  kComposite,  // a JSON object or array from the event; `text` is minified JSON
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  bool boolean = false;
  // True when a number was written as a JSON integer (no '.', no exponent):
  // `distinct` compares JSON text, where 1 and 1.0 differ.
  bool json_integer = false;
  double number = 0;
  std::string_view text;

  static Value null() { return {}; }
  static Value of_bool(bool b) {
    Value v;
    v.kind = ValueKind::kBool;
    v.boolean = b;
    return v;
  }
  static Value of_number(double d, bool integer_literal = false) {
    Value v;
    v.kind = ValueKind::kNumber;
    v.number = d;
    v.json_integer = integer_literal;
    return v;
  }
  static Value of_string(std::string_view s) {
    Value v;
    v.kind = ValueKind::kString;
    v.text = s;
    return v;
  }
  static Value of_composite(std::string_view json) {
    Value v;
    v.kind = ValueKind::kComposite;
    v.text = json;
    return v;
  }

  bool is_null() const { return kind == ValueKind::kNull; }
  bool is_number() const { return kind == ValueKind::kNumber; }
  bool is_string() const { return kind == ValueKind::kString; }
  // The only truthy value: `and`, `or`, `not` and conditions treat anything
  // other than `true` as false.
  bool is_true() const { return kind == ValueKind::kBool && boolean; }
};

// Equality of two non-null values of the language (`==`): same kind and same
// value; numbers by value, strings bytewise, composites by JSON text.
bool values_equal(const Value& a, const Value& b);

// Three-way ordering for `< <= > >=`: numbers by value, strings bytewise.
// Returns nullopt when the operands are not both numbers or both strings
// (the comparison is then false).
std::optional<int> order_values(const Value& a, const Value& b);

// Appends the JSON text of `v` (strings quoted and escaped). Numbers written
// as JSON integers keep integer form; others use the shortest text that
// reads back to the same double, Python-style ("1.0", "1e+20").
void append_json_text(std::string& out, const Value& v);

// Appends a number as the verdict writer and reason templates show it:
// integral values without a fraction ("4", not "4.0"), others shortest
// round-trip; NaN and infinities as "null".
void append_number(std::string& out, double d);

// Appends a value as a reason template shows it: strings raw, numbers via
// append_number, booleans and null as their JSON words, composites as JSON.
void append_display(std::string& out, const Value& v);

// Appends a JSON string literal (quoted, escaped; UTF-8 kept as is).
void append_json_string(std::string& out, std::string_view s);

// A stable, kind-tagged text form used as a map key where values of the
// language are grouped by equality (entity keys of `by`): numbers by value
// (1 and 1.0 are the same key), strings by content.
void append_key_text(std::string& out, const Value& v);

}  // namespace fraud

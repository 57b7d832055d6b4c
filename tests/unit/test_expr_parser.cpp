#include <gtest/gtest.h>

#include "engine/expr_parser.h"

using namespace fraud;

namespace {

// Prints the tree in prefix form to check precedence.
std::string show(const Expr& e) {
  static const char* names[] = {"lit", "list", "path", "call", "not", "and", "or", "neg", "+",  "-",     "*",
                                "/",   "%",    "==",   "!=",   "<",   "<=",  ">",  ">=",  "in", "not in"};
  switch (e.kind) {
    case ExprKind::kLiteral: {
      std::string s;
      append_json_text(s, e.literal);
      return s;
    }
    case ExprKind::kPath:
      return e.text;
    case ExprKind::kListLit: {
      std::string s = "[";
      for (const auto& i : e.items) s += show(*i) + ";";
      return s + "]";
    }
    default: {
      std::string s = "(" + std::string(e.kind == ExprKind::kCall ? e.text : names[static_cast<int>(e.kind)]);
      for (const auto& a : e.args) s += " " + show(*a);
      return s + ")";
    }
  }
}

std::string parse(const std::string& text) {
  ExprSyntaxError err;
  auto e = parse_expression(text, err);
  return e ? show(*e) : "ERROR@" + std::to_string(err.offset) + ": " + err.message;
}

}  // namespace

TEST(ExprParser, Precedence) {
  EXPECT_EQ(parse("a or b and not c"), "(or a (and b (not c)))");
  EXPECT_EQ(parse("not a == 1"), "(not (== a 1))");
  EXPECT_EQ(parse("1 + 2 * 3 - 4 % 5"), "(- (+ 1 (* 2 3)) (% 4 5))");
  EXPECT_EQ(parse("-a.b * 2 >= 3"), "(>= (* (neg a.b) 2) 3)");
  EXPECT_EQ(parse("(a or b) and c"), "(and (or a b) c)");
  EXPECT_EQ(parse("x not in [\"a\", -1, 2.5, true, null,]"), "(not in x [\"a\";-1;2.5;true;null;])");
  EXPECT_EQ(parse("geo_km(a, b, c, d) > 10"), "(> (geo_km a b c d) 10)");
  EXPECT_EQ(parse("s == \"q\\\"\\\\\""), "(== s \"q\\\"\\\\\")");
  EXPECT_EQ(parse("exists(device.id)"), "(exists device.id)");
  EXPECT_EQ(parse("1e3 + 2.50"), "(+ 1000.0 2.5)");
}

TEST(ExprParser, ErrorsPointAtTheProblem) {
  EXPECT_EQ(parse("a = 1"), "ERROR@2: '=' is not an operator; use '==' to compare");
  EXPECT_EQ(parse("a && b"), "ERROR@2: '&&' is not an operator; use 'and'");
  EXPECT_EQ(parse("a < b < c"), "ERROR@6: comparisons do not chain; use 'and' between them");
  EXPECT_EQ(parse("a and"), "ERROR@5: expression is incomplete");
  EXPECT_EQ(parse("(a or b"), "ERROR@7: expected ')', found end of expression");
  EXPECT_EQ(parse("x in 5"), "ERROR@5: the right side of 'in' must be a list name or [..], found '5'");
  EXPECT_EQ(parse("\"abc"), "ERROR@0: unterminated string");
  EXPECT_EQ(parse("'abc'"), "ERROR@0: strings use double quotes: \"like this\"");
  EXPECT_EQ(parse("\"a\\n\""), "ERROR@2: unknown escape in string (only \\\" and \\\\ are allowed)");
  EXPECT_EQ(parse("window > 24h"),
            "ERROR@9: malformed number '24h' (durations are only allowed in window and resolution)");
  EXPECT_EQ(parse("a b"), "ERROR@2: unexpected 'b' after expression");
  EXPECT_EQ(parse("x in [a]"), "ERROR@6: list items must be literals (numbers, strings, true, false, null), found 'a'");
  EXPECT_EQ(parse("a.1"), "ERROR@2: expected a field name after '.', found '1'");
  EXPECT_EQ(parse("a not b"), "ERROR@2: expected 'not in' or an operator");
}

TEST(ExprParser, Identifiers) {
  EXPECT_TRUE(is_identifier("ids_per_device_24h"));
  EXPECT_TRUE(is_identifier("_x"));
  EXPECT_FALSE(is_identifier("24h"));
  EXPECT_FALSE(is_identifier("in"));
  EXPECT_FALSE(is_identifier("a-b"));
  EXPECT_FALSE(is_identifier(""));
}

// Parser of the rule expression language (`when`, `condition`, `where`,
// and the `{...}` parts of reason templates).
//
// Grammar (EBNF), loosest binding first:
//
//   expr       = or_expr ;
//   or_expr    = and_expr , { "or" , and_expr } ;
//   and_expr   = not_expr , { "and" , not_expr } ;
//   not_expr   = "not" , not_expr | comparison ;
//   comparison = additive , [ cmp_op , additive
//                           | [ "not" ] , "in" , ( list_lit | name ) ] ;
//   cmp_op     = "==" | "!=" | "<" | "<=" | ">" | ">=" ;
//   additive   = term , { ( "+" | "-" ) , term } ;
//   term       = unary , { ( "*" | "/" | "%" ) , unary } ;
//   unary      = "-" , unary | primary ;
//   primary    = number | string | "true" | "false" | "null" | list_lit
//              | call | path | "(" , expr , ")" ;
//   call       = ident , "(" , [ expr , { "," , expr } ] , ")" ;
//   path       = ident , { "." , ident } ;
//   list_lit   = "[" , [ literal , { "," , literal } , [ "," ] ] , "]" ;
//   literal    = [ "-" ] , number | string | "true" | "false" | "null" ;
//   ident      = ( letter | "_" ) , { letter | digit | "_" } ;
//   number     = digit , { digit } , [ "." , digit , { digit } ]
//                , [ ( "e" | "E" ) , [ "+" | "-" ] , digit , { digit } ] ;
//   string     = '"' , { char | '\"' | '\\' } , '"' ;
//
// Comparisons do not chain (`a < b < c` is an error). Keywords (`and or not
// in true false null`) are lower case and reserved.
//
// Limits (hostile packs): an expression is at most kMaxExpressionBytes long,
// nests parentheses, calls, `not` and unary `-` at most kMaxNesting deep, and
// its syntax tree (chains of `and`/`or`/`+` included) is at most
// kMaxExpressionDepth deep; beyond them parsing fails with an error, never
// with unbounded recursion.
//
// The parser only builds syntax; names are resolved and types checked by the
// PackCompiler. Errors carry a byte offset into the expression text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/value.h"

namespace fraud {

enum class ExprKind : std::uint8_t {
  kLiteral,  // literal
  kListLit,  // items
  kPath,     // text: "device.id" or a bare name
  kCall,     // text: function name; args
  kNot,
  kAnd,
  kOr,
  kNeg,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,  // args[0] in args[1] (args[1] is kListLit or kPath)
  kNotIn,
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  std::uint32_t offset = 0;  // byte offset of the token that starts it
  std::uint32_t end = 0;     // byte offset just past it
  Value literal;             // kLiteral; string text points into `owned`
  std::string owned;         // unescaped string literal storage
  std::string text;          // kPath / kCall name
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::unique_ptr<Expr>> items;  // kListLit
};

inline constexpr std::size_t kMaxExpressionBytes = 64 * 1024;
inline constexpr int kMaxNesting = 100;
inline constexpr int kMaxExpressionDepth = 500;

struct ExprSyntaxError {
  std::uint32_t offset = 0;
  std::string message;
};

// Parses a whole expression. On failure returns nullptr and sets `error`.
std::unique_ptr<Expr> parse_expression(std::string_view text, ExprSyntaxError& error);

// True for a valid identifier that is not a keyword.
bool is_identifier(std::string_view s);
bool is_keyword(std::string_view s);

}  // namespace fraud

#include "engine/expr_parser.h"

#include <charconv>
#include <cstdlib>

namespace fraud {

namespace {

enum class Tok {
  kEnd,
  kNumber,
  kString,
  kIdent,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kNot,
  kIn,
  kTrue,
  kFalse,
  kNull,
  kError,
};

struct Token {
  Tok kind = Tok::kEnd;
  std::uint32_t offset = 0;
  std::uint32_t end = 0;
  std::string_view text;
  std::string value;  // unescaped string
  double number = 0;
  bool integer = false;
};

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Token next() {
    while (pos_ < src_.size() &&
           (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r')) {
      ++pos_;
    }
    Token t;
    t.offset = static_cast<std::uint32_t>(pos_);
    if (pos_ >= src_.size()) return finish(t, Tok::kEnd);
    char c = src_[pos_];
    auto two = [&](char n) { return pos_ + 1 < src_.size() && src_[pos_ + 1] == n; };
    switch (c) {
      case '(':
        ++pos_;
        return finish(t, Tok::kLParen);
      case ')':
        ++pos_;
        return finish(t, Tok::kRParen);
      case '[':
        ++pos_;
        return finish(t, Tok::kLBracket);
      case ']':
        ++pos_;
        return finish(t, Tok::kRBracket);
      case ',':
        ++pos_;
        return finish(t, Tok::kComma);
      case '.':
        ++pos_;
        return finish(t, Tok::kDot);
      case '+':
        ++pos_;
        return finish(t, Tok::kPlus);
      case '-':
        ++pos_;
        return finish(t, Tok::kMinus);
      case '*':
        ++pos_;
        return finish(t, Tok::kStar);
      case '/':
        ++pos_;
        return finish(t, Tok::kSlash);
      case '%':
        ++pos_;
        return finish(t, Tok::kPercent);
      case '=':
        if (two('=')) {
          pos_ += 2;
          return finish(t, Tok::kEq);
        }
        ++pos_;
        t.value = "'=' is not an operator; use '==' to compare";
        return finish(t, Tok::kError);
      case '!':
        if (two('=')) {
          pos_ += 2;
          return finish(t, Tok::kNe);
        }
        ++pos_;
        t.value = "'!' is not an operator; use 'not' or '!='";
        return finish(t, Tok::kError);
      case '<':
        if (two('=')) {
          pos_ += 2;
          return finish(t, Tok::kLe);
        }
        ++pos_;
        return finish(t, Tok::kLt);
      case '>':
        if (two('=')) {
          pos_ += 2;
          return finish(t, Tok::kGe);
        }
        ++pos_;
        return finish(t, Tok::kGt);
      case '&':
      case '|':
        ++pos_;
        if (pos_ < src_.size() && src_[pos_] == c) ++pos_;
        t.value = std::string("'") + c + c + "' is not an operator; use '" + (c == '&' ? "and" : "or") + "'";
        return finish(t, Tok::kError);
      case '"':
        return string_token(t);
      case '\'':
        ++pos_;
        t.value = "strings use double quotes: \"like this\"";
        return finish(t, Tok::kError);
      default:
        break;
    }
    if (digit(c)) return number_token(t);
    if (ident_start(c)) {
      while (pos_ < src_.size() && ident_char(src_[pos_])) ++pos_;
      std::string_view word = src_.substr(t.offset, pos_ - t.offset);
      Tok k = Tok::kIdent;
      if (word == "and")
        k = Tok::kAnd;
      else if (word == "or")
        k = Tok::kOr;
      else if (word == "not")
        k = Tok::kNot;
      else if (word == "in")
        k = Tok::kIn;
      else if (word == "true")
        k = Tok::kTrue;
      else if (word == "false")
        k = Tok::kFalse;
      else if (word == "null")
        k = Tok::kNull;
      return finish(t, k);
    }
    ++pos_;
    t.value = std::string("unexpected character '") + c + "'";
    return finish(t, Tok::kError);
  }

 private:
  Token finish(Token& t, Tok kind) {
    t.kind = kind;
    t.end = static_cast<std::uint32_t>(pos_);
    t.text = src_.substr(t.offset, pos_ - t.offset);
    return std::move(t);
  }

  Token number_token(Token& t) {
    bool integer = true;
    while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && digit(src_[pos_ + 1])) {
      integer = false;
      ++pos_;
      while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      std::size_t save = pos_;
      ++pos_;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && digit(src_[pos_])) {
        integer = false;
        while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
      } else {
        pos_ = save;
      }
    }
    if (pos_ < src_.size() && ident_start(src_[pos_])) {
      while (pos_ < src_.size() && ident_char(src_[pos_])) ++pos_;
      t.value = "malformed number '" + std::string(src_.substr(t.offset, pos_ - t.offset)) +
                "' (durations are only allowed in window and resolution)";
      return finish(t, Tok::kError);
    }
    std::string digits(src_.substr(t.offset, pos_ - t.offset));
    t.number = std::strtod(digits.c_str(), nullptr);
    t.integer = integer;
    return finish(t, Tok::kNumber);
  }

  Token string_token(Token& t) {
    ++pos_;
    while (pos_ < src_.size() && src_[pos_] != '"') {
      if (src_[pos_] == '\\') {
        if (pos_ + 1 < src_.size() && (src_[pos_ + 1] == '"' || src_[pos_ + 1] == '\\')) {
          t.value.push_back(src_[pos_ + 1]);
          pos_ += 2;
          continue;
        }
        t.offset = static_cast<std::uint32_t>(pos_);
        pos_ += 2;
        t.value = "unknown escape in string (only \\\" and \\\\ are allowed)";
        return finish(t, Tok::kError);
      }
      t.value.push_back(src_[pos_++]);
    }
    if (pos_ >= src_.size()) {
      t.value = "unterminated string";
      return finish(t, Tok::kError);
    }
    ++pos_;
    return finish(t, Tok::kString);
  }

  std::string_view src_;
  std::size_t pos_ = 0;
};

struct ParseFailure {
  std::uint32_t offset;
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view src) : lex_(src) { advance(); }

  std::unique_ptr<Expr> parse_all() {
    auto e = parse_or();
    if (tok_.kind != Tok::kEnd) fail_here("unexpected " + describe(tok_) + " after expression");
    return e;
  }

 private:
  [[noreturn]] void fail_here(std::string msg) { throw ParseFailure{tok_.offset, std::move(msg)}; }

  static std::string describe(const Token& t) {
    if (t.kind == Tok::kEnd) return "end of expression";
    return "'" + std::string(t.text) + "'";
  }

  void advance() {
    tok_ = lex_.next();
    if (tok_.kind == Tok::kError) throw ParseFailure{tok_.offset, tok_.value};
  }

  void expect(Tok kind, const char* what) {
    if (tok_.kind != kind) fail_here(std::string("expected ") + what + ", found " + describe(tok_));
    advance();
  }

  static std::unique_ptr<Expr> node(ExprKind k, std::uint32_t offset) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->offset = offset;
    return e;
  }

  static std::unique_ptr<Expr> binary(ExprKind k, std::unique_ptr<Expr> l, std::unique_ptr<Expr> r) {
    auto e = node(k, l->offset);
    e->end = r->end;
    e->args.push_back(std::move(l));
    e->args.push_back(std::move(r));
    return e;
  }

  // Counts one level of recursion for the scope of a parse function.
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) {
      if (++p.nesting_ > kMaxNesting) {
        p.fail_here("expression nests deeper than " + std::to_string(kMaxNesting) +
                    " levels (parentheses, calls, not, -); split it into macros");
      }
    }
    ~Nest() { --p.nesting_; }
  };

  std::unique_ptr<Expr> parse_or() {
    Nest nest(*this);
    auto l = parse_and();
    while (tok_.kind == Tok::kOr) {
      advance();
      l = binary(ExprKind::kOr, std::move(l), parse_and());
    }
    return l;
  }

  std::unique_ptr<Expr> parse_and() {
    auto l = parse_not();
    while (tok_.kind == Tok::kAnd) {
      advance();
      l = binary(ExprKind::kAnd, std::move(l), parse_not());
    }
    return l;
  }

  std::unique_ptr<Expr> parse_not() {
    if (tok_.kind == Tok::kNot) {
      Nest nest(*this);
      auto e = node(ExprKind::kNot, tok_.offset);
      advance();
      auto inner = parse_not();
      e->end = inner->end;
      e->args.push_back(std::move(inner));
      return e;
    }
    return parse_comparison();
  }

  static bool comparison_token(Tok k) {
    return k == Tok::kEq || k == Tok::kNe || k == Tok::kLt || k == Tok::kLe || k == Tok::kGt || k == Tok::kGe ||
           k == Tok::kIn || k == Tok::kNot;
  }

  std::unique_ptr<Expr> parse_comparison() {
    auto l = parse_additive();
    ExprKind k;
    switch (tok_.kind) {
      case Tok::kEq:
        k = ExprKind::kEq;
        break;
      case Tok::kNe:
        k = ExprKind::kNe;
        break;
      case Tok::kLt:
        k = ExprKind::kLt;
        break;
      case Tok::kLe:
        k = ExprKind::kLe;
        break;
      case Tok::kGt:
        k = ExprKind::kGt;
        break;
      case Tok::kGe:
        k = ExprKind::kGe;
        break;
      case Tok::kIn:
        k = ExprKind::kIn;
        break;
      case Tok::kNot: {
        auto at = tok_.offset;
        advance();
        if (tok_.kind != Tok::kIn) throw ParseFailure{at, "expected 'not in' or an operator"};
        k = ExprKind::kNotIn;
        break;
      }
      default:
        return l;
    }
    advance();
    std::unique_ptr<Expr> r;
    if (k == ExprKind::kIn || k == ExprKind::kNotIn) {
      if (tok_.kind == Tok::kLBracket) {
        r = parse_list();
      } else if (tok_.kind == Tok::kIdent) {
        r = parse_path_or_call();
        if (r->kind == ExprKind::kCall) {
          throw ParseFailure{r->offset, "the right side of 'in' must be a list name or [..]"};
        }
      } else {
        fail_here("the right side of 'in' must be a list name or [..], found " + describe(tok_));
      }
    } else {
      r = parse_additive();
    }
    if (comparison_token(tok_.kind)) {
      fail_here("comparisons do not chain; use 'and' between them");
    }
    return binary(k, std::move(l), std::move(r));
  }

  std::unique_ptr<Expr> parse_additive() {
    auto l = parse_term();
    while (tok_.kind == Tok::kPlus || tok_.kind == Tok::kMinus) {
      ExprKind k = tok_.kind == Tok::kPlus ? ExprKind::kAdd : ExprKind::kSub;
      advance();
      l = binary(k, std::move(l), parse_term());
    }
    return l;
  }

  std::unique_ptr<Expr> parse_term() {
    auto l = parse_unary();
    while (tok_.kind == Tok::kStar || tok_.kind == Tok::kSlash || tok_.kind == Tok::kPercent) {
      ExprKind k = tok_.kind == Tok::kStar    ? ExprKind::kMul
                   : tok_.kind == Tok::kSlash ? ExprKind::kDiv
                                              : ExprKind::kMod;
      advance();
      l = binary(k, std::move(l), parse_unary());
    }
    return l;
  }

  std::unique_ptr<Expr> parse_unary() {
    if (tok_.kind == Tok::kMinus) {
      Nest nest(*this);
      auto e = node(ExprKind::kNeg, tok_.offset);
      advance();
      auto inner = parse_unary();
      e->end = inner->end;
      e->args.push_back(std::move(inner));
      return e;
    }
    return parse_primary();
  }

  std::unique_ptr<Expr> literal_from_token() {
    auto e = node(ExprKind::kLiteral, tok_.offset);
    e->end = tok_.end;
    switch (tok_.kind) {
      case Tok::kNumber:
        e->literal = Value::of_number(tok_.number, tok_.integer);
        break;
      case Tok::kString:
        e->owned = std::move(tok_.value);
        e->literal = Value::of_string({});
        break;
      case Tok::kTrue:
        e->literal = Value::of_bool(true);
        break;
      case Tok::kFalse:
        e->literal = Value::of_bool(false);
        break;
      case Tok::kNull:
        e->literal = Value::null();
        break;
      default:
        fail_here("expected a value, found " + describe(tok_));
    }
    advance();
    if (e->literal.kind == ValueKind::kString) e->literal.text = e->owned;
    return e;
  }

  std::unique_ptr<Expr> parse_list() {
    auto e = node(ExprKind::kListLit, tok_.offset);
    advance();
    while (tok_.kind != Tok::kRBracket) {
      if (tok_.kind == Tok::kMinus) {
        auto at = tok_.offset;
        advance();
        if (tok_.kind != Tok::kNumber) throw ParseFailure{at, "expected a number after '-'"};
        auto item = literal_from_token();
        item->offset = at;
        item->literal.number = -item->literal.number;
        e->items.push_back(std::move(item));
      } else if (tok_.kind == Tok::kNumber || tok_.kind == Tok::kString || tok_.kind == Tok::kTrue ||
                 tok_.kind == Tok::kFalse || tok_.kind == Tok::kNull) {
        e->items.push_back(literal_from_token());
      } else {
        fail_here("list items must be literals (numbers, strings, true, false, null), found " + describe(tok_));
      }
      if (tok_.kind == Tok::kComma) {
        advance();
      } else if (tok_.kind != Tok::kRBracket) {
        fail_here("expected ',' or ']' in list, found " + describe(tok_));
      }
    }
    e->end = tok_.end;
    advance();
    return e;
  }

  std::unique_ptr<Expr> parse_path_or_call() {
    auto e = node(ExprKind::kPath, tok_.offset);
    e->text = std::string(tok_.text);
    e->end = tok_.end;
    advance();
    if (tok_.kind == Tok::kLParen) {
      e->kind = ExprKind::kCall;
      advance();
      if (tok_.kind != Tok::kRParen) {
        while (true) {
          e->args.push_back(parse_or());
          if (tok_.kind == Tok::kComma) {
            advance();
            continue;
          }
          break;
        }
      }
      e->end = tok_.end;
      expect(Tok::kRParen, "')' to close the call");
      return e;
    }
    while (tok_.kind == Tok::kDot) {
      advance();
      if (tok_.kind != Tok::kIdent) fail_here("expected a field name after '.', found " + describe(tok_));
      e->text += ".";
      e->text += tok_.text;
      e->end = tok_.end;
      advance();
    }
    return e;
  }

  std::unique_ptr<Expr> parse_primary() {
    switch (tok_.kind) {
      case Tok::kNumber:
      case Tok::kString:
      case Tok::kTrue:
      case Tok::kFalse:
      case Tok::kNull:
        return literal_from_token();
      case Tok::kLBracket:
        return parse_list();
      case Tok::kIdent:
        return parse_path_or_call();
      case Tok::kLParen: {
        auto start = tok_.offset;
        advance();
        auto e = parse_or();
        e->offset = start;
        e->end = tok_.end;
        expect(Tok::kRParen, "')'");
        return e;
      }
      case Tok::kEnd:
        fail_here("expression is incomplete");
      default:
        fail_here("expected a value, found " + describe(tok_));
    }
  }

  Lexer lex_;
  Token tok_;
  int nesting_ = 0;
};

// The offset of a node deeper than kMaxExpressionDepth, if any (iterative:
// the tree may be deep).
std::optional<std::uint32_t> too_deep_at(const Expr& root) {
  std::vector<std::pair<const Expr*, int>> stack{{&root, 1}};
  while (!stack.empty()) {
    auto [e, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxExpressionDepth) return e->offset;
    for (const auto& a : e->args) stack.emplace_back(a.get(), depth + 1);
    for (const auto& a : e->items) stack.emplace_back(a.get(), depth + 1);
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<Expr> parse_expression(std::string_view text, ExprSyntaxError& error) {
  if (text.size() > kMaxExpressionBytes) {
    error.offset = 0;
    error.message = "expression is " + std::to_string(text.size()) + " bytes; the limit is " +
                    std::to_string(kMaxExpressionBytes) + " (split it into macros)";
    return nullptr;
  }
  try {
    Parser p(text);
    auto e = p.parse_all();
    if (auto at = too_deep_at(*e)) {
      error.offset = *at;
      error.message = "expression is more than " + std::to_string(kMaxExpressionDepth) +
                      " operations deep; split it into macros or use 'in [...]' for long or-chains";
      return nullptr;
    }
    return e;
  } catch (const ParseFailure& f) {
    error.offset = f.offset;
    error.message = f.message;
    return nullptr;
  }
}

bool is_keyword(std::string_view s) {
  return s == "and" || s == "or" || s == "not" || s == "in" || s == "true" || s == "false" || s == "null";
}

bool is_identifier(std::string_view s) {
  if (s.empty() || !ident_start(s[0])) return false;
  for (char c : s) {
    if (!ident_char(c)) return false;
  }
  return !is_keyword(s);
}

}  // namespace fraud

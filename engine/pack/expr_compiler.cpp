#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

std::uint32_t PackCompiler::add_node(Node n, std::initializer_list<std::uint32_t> children) {
  return add_node(n, std::span<const std::uint32_t>(children.begin(), children.size()));
}

// Every node goes through here: its depth and size are tracked with it.
std::uint32_t PackCompiler::add_node(Node n, std::span<const std::uint32_t> children) {
  n.args_begin = static_cast<std::uint32_t>(rs_->args.size());
  n.args_count = static_cast<std::uint32_t>(children.size());
  std::uint32_t depth = 1;
  std::uint64_t size = 1;
  for (auto c : children) {
    rs_->args.push_back(c);
    depth = std::max(depth, node_depth_[c] + 1);
    size = std::min<std::uint64_t>(size + node_size_[c], std::uint64_t{1} << 40);
  }
  rs_->nodes.push_back(n);
  node_depth_.push_back(depth);
  node_size_.push_back(size);
  return static_cast<std::uint32_t>(rs_->nodes.size() - 1);
}

std::uint32_t PackCompiler::const_node(Value v) {
  if (v.kind == ValueKind::kString) {
    rs_->strings.push_back(std::make_unique<std::string>(v.text));
    v.text = *rs_->strings.back();
  }
  Node n;
  n.op = NodeOp::kConst;
  n.constant = v;
  return add_node(n);
}

SType PackCompiler::literal_type(const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      return SType::kNull;
    case ValueKind::kBool:
      return SType::kBool;
    case ValueKind::kNumber:
      return SType::kNumber;
    case ValueKind::kString:
      return SType::kString;
    default:
      return SType::kAny;
  }
}

std::vector<std::string> PackCompiler::declared_names(std::initializer_list<NameKind> kinds) const {
  std::vector<std::string> out;
  for (const auto& [n, e] : names_) {
    if (std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end()) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Compiled PackCompiler::compile_expr(const Expr& e, Scope& scope) {
  const ExprSite& site = *scope.site;
  auto here = [&](std::uint32_t off) { return pos_in(site, off); };
  switch (e.kind) {
    case ExprKind::kLiteral:
      return {const_node(e.literal), literal_type(e.literal), true};
    case ExprKind::kListLit:
      error("E307", here(e.offset), "a list literal can only be used after 'in'");
      return fail();
    case ExprKind::kPath:
      return compile_name(e, scope);
    case ExprKind::kCall:
      return compile_call(e, scope);
    case ExprKind::kNot:
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      std::vector<std::uint32_t> kids;
      bool ok = true;
      for (const auto& a : e.args) {
        Compiled c = compile_expr(*a, scope);
        ok &= c.ok;
        if (c.ok && c.type != SType::kAny && c.type != SType::kBool) {
          const char* op = e.kind == ExprKind::kNot ? "not" : e.kind == ExprKind::kAnd ? "and" : "or";
          error("E306", here(a->offset),
                std::string("'") + op + "' needs true/false, but this is " + type_word(c.type));
          ok = false;
        }
        kids.push_back(c.node);
      }
      Node n;
      n.op = e.kind == ExprKind::kNot ? NodeOp::kNot : e.kind == ExprKind::kAnd ? NodeOp::kAnd : NodeOp::kOr;
      std::uint32_t id = kids.size() == 1 ? add_node(n, {kids[0]}) : add_node(n, {kids[0], kids[1]});
      return {id, SType::kBool, ok};
    }
    case ExprKind::kNeg: {
      Compiled c = compile_expr(*e.args[0], scope);
      bool ok = c.ok && check_numeric(c, *e.args[0], "unary '-'", scope);
      Node n;
      n.op = NodeOp::kNeg;
      return {add_node(n, {c.node}), SType::kNumber, ok};
    }
    case ExprKind::kAdd:
    case ExprKind::kSub:
    case ExprKind::kMul:
    case ExprKind::kDiv:
    case ExprKind::kMod: {
      static const std::map<ExprKind, std::pair<NodeOp, const char*>> ops = {{ExprKind::kAdd, {NodeOp::kAdd, "'+'"}},
                                                                             {ExprKind::kSub, {NodeOp::kSub, "'-'"}},
                                                                             {ExprKind::kMul, {NodeOp::kMul, "'*'"}},
                                                                             {ExprKind::kDiv, {NodeOp::kDiv, "'/'"}},
                                                                             {ExprKind::kMod, {NodeOp::kMod, "'%'"}}};
      auto [op, word] = ops.at(e.kind);
      Compiled l = compile_expr(*e.args[0], scope);
      Compiled r = compile_expr(*e.args[1], scope);
      bool ok = l.ok && r.ok;
      ok = (l.ok ? check_numeric(l, *e.args[0], word, scope) : false) && ok;
      ok = (r.ok ? check_numeric(r, *e.args[1], word, scope) : false) && ok;
      Node n;
      n.op = op;
      return {add_node(n, {l.node, r.node}), SType::kNumber, ok};
    }
    case ExprKind::kEq:
    case ExprKind::kNe:
    case ExprKind::kLt:
    case ExprKind::kLe:
    case ExprKind::kGt:
    case ExprKind::kGe:
      return compile_comparison(e, scope);
    case ExprKind::kIn:
    case ExprKind::kNotIn:
      return compile_in(e, scope);
  }
  return fail();
}

bool PackCompiler::check_numeric(const Compiled& c, const Expr& e, const char* op, Scope& scope) {
  if (c.type == SType::kString || c.type == SType::kBool || c.type == SType::kList) {
    error("E305", pos_in(*scope.site, e.offset), std::string(op) + " needs numbers, but this is " + type_word(c.type));
    return false;
  }
  if (c.type == SType::kNull) {
    warning("W305", pos_in(*scope.site, e.offset), std::string(op) + " with null always gives null");
  }
  return true;
}

Compiled PackCompiler::compile_comparison(const Expr& e, Scope& scope) {
  const Expr& le = *e.args[0];
  const Expr& re = *e.args[1];
  Compiled l = compile_expr(le, scope);
  Compiled r = compile_expr(re, scope);
  bool ok = l.ok && r.ok;
  bool equality = e.kind == ExprKind::kEq || e.kind == ExprKind::kNe;
  bool l_null = le.kind == ExprKind::kLiteral && le.literal.is_null();
  bool r_null = re.kind == ExprKind::kLiteral && re.literal.is_null();
  if (equality && (l_null || r_null)) {
    Node n;
    n.op = e.kind == ExprKind::kEq ? NodeOp::kIsNull : NodeOp::kNotNull;
    std::uint32_t operand = l_null ? r.node : l.node;
    return {add_node(n, {operand}), SType::kBool, ok};
  }
  if (ok && (l_null || r_null)) {
    warning("W305", pos_in(*scope.site, e.offset), "ordering against null is always false; use '== null' or '!= null'");
  } else if (ok && l.type != SType::kAny && r.type != SType::kAny && l.type != r.type) {
    warning("W302", pos_in(*scope.site, e.offset),
            std::string("comparing ") + type_word(l.type) + " with " + type_word(r.type) + " is always false");
  } else if (ok && !equality && (l.type == SType::kBool || r.type == SType::kBool)) {
    warning("W302", pos_in(*scope.site, e.offset), "ordering true/false values is always false");
  }
  Node n;
  switch (e.kind) {
    case ExprKind::kEq:
      n.op = NodeOp::kEq;
      break;
    case ExprKind::kNe:
      n.op = NodeOp::kNe;
      break;
    case ExprKind::kLt:
      n.op = NodeOp::kLt;
      break;
    case ExprKind::kLe:
      n.op = NodeOp::kLe;
      break;
    case ExprKind::kGt:
      n.op = NodeOp::kGt;
      break;
    default:
      n.op = NodeOp::kGe;
      break;
  }
  return {add_node(n, {l.node, r.node}), SType::kBool, ok};
}

Compiled PackCompiler::compile_in(const Expr& e, Scope& scope) {
  Compiled l = compile_expr(*e.args[0], scope);
  bool ok = l.ok;
  const Expr& right = *e.args[1];
  std::uint32_t list_id = 0;
  if (right.kind == ExprKind::kListLit) {
    ListSet set;
    for (const auto& item : right.items) set.add(item->literal);
    rs_->lists.push_back(std::move(set));
    list_id = static_cast<std::uint32_t>(rs_->lists.size() - 1);
  } else {
    auto it = names_.find(right.text);
    if (it != names_.end() && it->second.kind == NameKind::kList) {
      list_id = it->second.index;
    } else {
      if (it != names_.end()) {
        error(
            "E308", pos_in(*scope.site, right.offset),
            "'" + right.text + "' is a " + kind_word(it->second.kind) + ", not a list; 'in' needs a list name or [..]");
      } else {
        error("E308", pos_in(*scope.site, right.offset),
              "unknown list '" + right.text + "'" + did_you_mean(right.text, declared_names({NameKind::kList})));
      }
      return fail();
    }
  }
  Node n;
  n.op = e.kind == ExprKind::kIn ? NodeOp::kIn : NodeOp::kNotIn;
  n.index = list_id;
  return {add_node(n, {l.node}), SType::kBool, ok};
}

Compiled PackCompiler::compile_call(const Expr& e, Scope& scope) {
  if (e.text == "explain") return compile_explain(e, scope);
  const FunctionSpec* spec = nullptr;
  for (const auto& f : kFunctions) {
    if (e.text == f.name) spec = &f;
  }
  if (!spec) {
    std::vector<std::string> names;
    for (const auto& f : kFunctions) names.emplace_back(f.name);
    names.emplace_back("explain");
    error("E303", pos_in(*scope.site, e.offset), "unknown function '" + e.text + "'" + did_you_mean(e.text, names));
    return fail();
  }
  if (static_cast<int>(e.args.size()) != spec->arity) {
    error(
        "E304", pos_in(*scope.site, e.offset),
        "'" + e.text + "' takes " + std::to_string(spec->arity) + " argument(s), got " + std::to_string(e.args.size()));
    return fail();
  }
  bool ok = true;
  std::vector<std::uint32_t> kids;
  for (const auto& a : e.args) {
    Compiled c = compile_expr(*a, scope);
    ok &= c.ok;
    if (c.ok && spec->arg != SType::kAny && c.type != SType::kAny && c.type != SType::kNull && c.type != spec->arg) {
      error("E305", pos_in(*scope.site, a->offset),
            "'" + e.text + "' needs " + type_word(spec->arg) + ", but this is " + type_word(c.type));
      ok = false;
    }
    kids.push_back(c.node);
  }
  Node n;
  n.op = NodeOp::kCall;
  n.function = spec->fn;
  return {add_node(n, std::span<const std::uint32_t>(kids)), spec->result, ok};
}

Compiled PackCompiler::compile_name(const Expr& e, Scope& scope) {
  auto it = e.text.find('.') == std::string::npos ? names_.find(e.text) : names_.end();
  // Rule names are not values: a bare name equal to a rule name reads the
  // event field of that name (RULES.md: only lists, macros, features).
  if (it != names_.end() && it->second.kind == NameKind::kRule) it = names_.end();
  if (it == names_.end()) {
    if (e.text.find('.') == std::string::npos) {
      // One lookup per distinct field name (compile time stays linear in
      // the pack: a field read by every rule is not compared again).
      auto cached = field_hints_.find(e.text);
      if (cached == field_hints_.end()) {
        if (!value_names_) value_names_ = declared_names({NameKind::kMacro, NameKind::kFeature});
        cached = field_hints_.emplace(e.text, did_you_mean(e.text, *value_names_)).first;
      }
      const std::string& hint = cached->second;
      if (!hint.empty()) {
        warning("W301", pos_in(*scope.site, e.offset),
                "'" + e.text + "' is not declared, so it reads the event field '" + e.text + "'" + hint);
      }
    }
    Node n;
    n.op = NodeOp::kField;
    n.index = rs_->fields.intern(e.text);
    return {add_node(n), SType::kAny, true};
  }
  const NameEntry& entry = it->second;
  switch (entry.kind) {
    case NameKind::kList:
      error("E307", pos_in(*scope.site, e.offset), "list '" + e.text + "' can only be used after 'in' / 'not in'");
      return fail();
    case NameKind::kRule:
      break;  // handled above
    case NameKind::kFeature: {
      if (scope.in_where) {
        error("E309", pos_in(*scope.site, e.offset),
              "a 'where' may not read features, but '" + e.text + "' is a feature");
        return fail();
      }
      if (scope.macro) {
        scope.macro->uses_features = true;
        if (scope.macro->first_feature.empty()) scope.macro->first_feature = e.text;
      }
      Node n;
      n.op = NodeOp::kFeature;
      n.index = entry.index;
      return {add_node(n), SType::kNumber, true};
    }
    case NameKind::kModel: {
      if (scope.in_where) {
        error("E309", pos_in(*scope.site, e.offset), "a 'where' may not read models, but '" + e.text + "' is a model");
        return fail();
      }
      if (scope.in_model_input) {
        error("E606", pos_in(*scope.site, e.offset),
              "a model input may not read a model, but '" + e.text + "' is a model");
        return fail();
      }
      if (scope.macro) {
        scope.macro->uses_features = true;  // scoring reads the model's inputs
        if (scope.macro->first_feature.empty()) scope.macro->first_feature = e.text;
        if (scope.macro->first_model.empty()) scope.macro->first_model = e.text;
      }
      Node n;
      n.op = NodeOp::kModel;
      n.index = entry.index;
      return {add_node(n), SType::kNumber, true};
    }
    case NameKind::kMacro: {
      Compiled c = compile_macro(entry.index, &scope, &e);
      MacroState& st = macro_states_[entry.index];
      if (!c.ok) return {c.node, c.type, false};
      if (scope.in_model_input && !st.first_model.empty()) {
        error("E606", pos_in(*scope.site, e.offset),
              "a model input may not read a model, but macro '" + e.text + "' reads model '" + st.first_model + "'");
        return fail();
      }
      if (scope.macro && !st.first_model.empty() && scope.macro->first_model.empty()) {
        scope.macro->first_model = st.first_model;
      }
      if (scope.in_where && st.uses_features) {
        const char* what = st.first_feature == st.first_model ? "' reads model '" : "' reads feature '";
        error("E309", pos_in(*scope.site, e.offset),
              "a 'where' may not read features or models, but macro '" + e.text + what + st.first_feature + "'");
        return fail();
      }
      if (scope.macro && st.uses_features) {
        scope.macro->uses_features = true;
        if (scope.macro->first_feature.empty()) scope.macro->first_feature = st.first_feature;
      }
      if (scope.macro) scope.macro->level = std::max(scope.macro->level, st.level + 1);
      return c;
    }
  }
  return fail();
}

// Compiles macro `index` once; `from` is the referencing scope (cycle report).
Compiled PackCompiler::compile_macro(std::uint32_t index, Scope* from, const Expr* ref) {
  MacroState& st = macro_states_[index];
  const Item& item = macros_[index];
  if (st.status == 2) return st.result;
  if (st.status == 3) return {const_node(Value::null()), SType::kAny, false};
  if (st.status == 1) {
    std::string chain = from ? from->macro_chain : std::string();
    SourcePos p = (from && ref) ? pos_in(*from->site, ref->offset) : pos_of(item.file, item.name_mark);
    error("E310", p, "macro cycle: " + chain + " -> " + item.name);
    st.status = 3;
    return {const_node(Value::null()), SType::kAny, false};
  }
  if (from && from->macro_depth >= kMaxMacroNesting) {
    SourcePos p = ref ? pos_in(*from->site, ref->offset) : pos_of(item.file, item.name_mark);
    error("E311", p,
          "macros nest more than " + std::to_string(kMaxMacroNesting) + " levels deep: " + from->macro_chain + " -> " +
              item.name);
    return {const_node(Value::null()), SType::kAny, false};  // not cached: another path may be shallower
  }
  st.status = 1;
  auto text = string_key(item, "condition", true);
  if (!text) {
    st.status = 3;
    return {const_node(Value::null()), SType::kAny, false};
  }
  macro_texts_.push_back(std::make_unique<std::string>(*text));
  ExprSite site{item.file, item.node["condition"].Mark(), *macro_texts_.back(), 0};
  Scope scope{&site};
  scope.macro_chain = (from && !from->macro_chain.empty() ? from->macro_chain + " -> " : "") + item.name;
  scope.macro_depth = from ? from->macro_depth + 1 : 1;
  MacroState local;
  scope.macro = &local;
  Compiled c = compile_condition(site, scope, "condition");
  if (st.status == 3) return {const_node(Value::null()), SType::kAny, false};  // a cycle through it
  st.uses_features = local.uses_features;
  st.first_feature = local.first_feature;
  st.level = local.level;
  if (c.ok && local.level > kMaxMacroNesting) {
    error("E311", pos_of(item.file, item.name_mark),
          "macros nest more than " + std::to_string(kMaxMacroNesting) + " levels deep: '" + item.name +
              "' uses macros " + std::to_string(local.level - 1) + " levels deep");
    c.ok = false;
  }
  st.result = c;
  st.status = c.ok ? 2 : 3;
  return c;
}

Compiled PackCompiler::compile_value(const ExprSite& site, Scope& scope, const char* what, std::uint32_t* offset) {
  ExprSyntaxError err;
  auto expr = parse_expression(site.text, err);
  if (!expr) {
    error("E301", pos_in(site, err.offset), "syntax error in " + std::string(what) + ": " + err.message);
    return fail();
  }
  if (offset) *offset = static_cast<std::uint32_t>(expr->offset);
  Compiled c = compile_expr(*expr, scope);
  if (c.ok && node_depth_[c.node] > kMaxCompiledDepth) {
    error("E311", pos_in(site, expr->offset),
          std::string(what) + " is " + std::to_string(node_depth_[c.node]) +
              " operations deep with its macros; the limit is " + std::to_string(kMaxCompiledDepth));
    c.ok = false;
  } else if (c.ok && node_size_[c.node] > kMaxCompiledOperations) {
    error("E311", pos_in(site, expr->offset),
          std::string(what) + " expands to " + std::to_string(node_size_[c.node]) +
              " operations with its macros (each use of a macro evaluates it again); the limit is " +
              std::to_string(kMaxCompiledOperations));
    c.ok = false;
  }
  return c;
}

Compiled PackCompiler::compile_condition(const ExprSite& site, Scope& scope, const char* what) {
  std::uint32_t offset = 0;
  Compiled c = compile_value(site, scope, what, &offset);
  if (c.ok && c.type != SType::kAny && c.type != SType::kBool) {
    error("E306", pos_in(site, offset), std::string(what) + " must be true/false, but this is " + type_word(c.type));
    c.ok = false;
  }
  return c;
}

}  // namespace fraud::pack

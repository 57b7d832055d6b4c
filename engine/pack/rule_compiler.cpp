#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

// Structural text of a compiled expression, so a feature whose `where`
// reads a macro changes fingerprint when the macro changes.
std::string PackCompiler::macro_fingerprint(std::uint32_t node) {
  std::string out;
  std::vector<std::uint32_t> stack{node};
  while (!stack.empty()) {
    std::uint32_t i = stack.back();
    stack.pop_back();
    const Node& n = rs_->nodes[i];
    out += std::to_string(static_cast<int>(n.op)) + ":" + std::to_string(n.index) + ":";
    if (n.op == NodeOp::kConst) append_json_text(out, n.constant);
    if (n.op == NodeOp::kField) out += rs_->fields.path(n.index);
    if (n.op == NodeOp::kIn || n.op == NodeOp::kNotIn) out += "list" + std::to_string(n.index);
    out += ";";
    for (std::uint32_t k = 0; k < n.args_count; ++k) stack.push_back(rs_->args[n.args_begin + k]);
  }
  return sha256_hex(out).substr(0, 16);
}

void PackCompiler::compile_reason(const Item& item, const std::string& text, RuleDef& rule, bool& ok) {
  reason_texts_.push_back(std::make_unique<std::string>(text));
  const std::string& t = *reason_texts_.back();
  const YAML::Mark mark = item.node["reason"].Mark();
  std::string literal;
  std::size_t i = 0;
  while (i < t.size()) {
    char c = t[i];
    if (c == '{' && i + 1 < t.size() && t[i + 1] == '{') {
      literal.push_back('{');
      i += 2;
      continue;
    }
    if (c == '}' && i + 1 < t.size() && t[i + 1] == '}') {
      literal.push_back('}');
      i += 2;
      continue;
    }
    if (c == '}') {
      error("E505", pos_in({item.file, mark, t, 0}, static_cast<std::uint32_t>(i)),
            "unmatched '}' in reason (write '}}' for a literal brace)");
      ok = false;
      ++i;
      continue;
    }
    if (c != '{') {
      literal.push_back(c);
      ++i;
      continue;
    }
    std::size_t close = t.find('}', i + 1);
    if (close == std::string::npos) {
      error("E505", pos_in({item.file, mark, t, 0}, static_cast<std::uint32_t>(i)),
            "unclosed '{' in reason (write '{{' for a literal brace)");
      ok = false;
      break;
    }
    std::string inner = t.substr(i + 1, close - i - 1);
    reason_texts_.push_back(std::make_unique<std::string>(inner));
    ExprSite site{item.file, mark, t, static_cast<std::uint32_t>(i + 1)};
    ExprSyntaxError err;
    auto expr = parse_expression(inner, err);
    if (!expr) {
      error("E505", pos_in(site, err.offset), "bad placeholder in reason: " + err.message);
      ok = false;
    } else {
      Scope scope{&site};
      scope.in_reason = true;
      Compiled c = compile_expr(*expr, scope);
      if (!c.ok) {
        ok = false;
      } else {
        rule.reason.push_back({literal, c.node});
        literal.clear();
      }
    }
    i = close + 1;
  }
  if (!literal.empty()) rule.reason.push_back({literal, std::nullopt});
  rule.has_reason = true;
}

void PackCompiler::compile_rules() {
  for (const auto& item : rules_) {
    RuleDef rule;
    rule.name = item.name;
    bool ok = true;
    bool enabled = true;
    if (auto d = string_key(item, "description", false)) rule.description = *d;
    if (const YAML::Node en = item.node["enabled"]) {
      Value v = en.IsScalar() ? yaml_scalar_value(en) : Value::null();
      if (v.kind != ValueKind::kBool) {
        error_at("E103", item.file, en, "enabled must be true or false");
        ok = false;
      } else {
        enabled = v.boolean;
      }
    }
    if (auto when = string_key(item, "when", true)) {
      macro_texts_.push_back(std::make_unique<std::string>(*when));
      ExprSite site{item.file, item.node["when"].Mark(), *macro_texts_.back(), 0};
      Scope scope{&site};
      Compiled c = compile_condition(site, scope, "when");
      ok &= c.ok;
      rule.when_node = c.node;
    } else {
      ok = false;
    }
    if (const YAML::Node s = item.node["score"]) {
      if (auto v = number_node(item.file, s, "score")) {
        rule.score = *v;
      } else {
        ok = false;
      }
    }
    if (auto d = string_key(item, "decision", false)) {
      rule.decision = parse_decision(*d);
      if (!rule.decision) {
        error_at("E501", item.file, item.node["decision"],
                 "decision must be allow, review or decline, not '" + *d + "'");
        ok = false;
      }
    }
    if (auto m = string_key(item, "mode", false)) {
      if (*m == "shadow") {
        rule.shadow = true;
      } else if (*m != "enforce") {
        error_at("E502", item.file, item.node["mode"], "mode must be enforce or shadow, not '" + *m + "'");
        ok = false;
      }
    }
    if (const YAML::Node tags = item.node["tags"]) {
      if (!tags.IsSequence()) {
        error_at("E103", item.file, tags, "tags must be a list like [device, identity]");
      } else {
        for (const auto& t : tags) {
          if (!t.IsScalar()) {
            error_at("E103", item.file, t, "each tag must be a word");
            continue;
          }
          rule.tags.push_back(t.Scalar());
        }
      }
    }
    if (auto r = string_key(item, "reason", false)) {
      compile_reason(item, *r, rule, ok);
    } else {
      warning("W304", pos_of(item.file, item.name_mark),
              "rule '" + item.name + "' has no reason; verdicts will not explain it");
    }
    if (ok && enabled) rs_->rules.push_back(std::move(rule));
  }
}

}  // namespace fraud::pack

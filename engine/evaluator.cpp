#include "engine/evaluator.h"

#include <cmath>

namespace fraud {

std::string& EvalScratch::next_string() {
  if (used_ == pool_.size()) pool_.emplace_back();
  std::string& s = pool_[used_++];
  s.clear();
  return s;
}

double geo_distance_km(double lat1, double lon1, double lat2, double lon2) {
  constexpr double kRad = 3.14159265358979323846 / 180.0;
  double dlat = (lat2 - lat1) * kRad;
  double dlon = (lon2 - lon1) * kRad;
  double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * 6371.0 * std::asin(std::sqrt(std::min(1.0, a)));
}

namespace {

bool string_pair(const Value& a, const Value& b) { return a.is_string() && b.is_string(); }

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

Value call(const EvalContext& ctx, const Node& n) {
  const std::uint32_t* a = ctx.rules.args.data() + n.args_begin;
  auto arg = [&](std::uint32_t i) { return evaluate(ctx, a[i]); };
  switch (n.function) {
    case Function::kExists:
      return Value::of_bool(!arg(0).is_null());
    case Function::kLower:
    case Function::kUpper: {
      Value s = arg(0);
      if (!s.is_string()) return Value::null();
      std::string& out = ctx.scratch.next_string();
      out.assign(s.text);
      for (char& c : out) {
        if (n.function == Function::kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
        if (n.function == Function::kUpper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      }
      return Value::of_string(out);
    }
    case Function::kLen: {
      Value s = arg(0);
      if (!s.is_string()) return Value::null();
      return Value::of_number(static_cast<double>(utf8_length(s.text)), true);
    }
    case Function::kAbs: {
      Value x = arg(0);
      return x.is_number() ? Value::of_number(std::fabs(x.number)) : Value::null();
    }
    case Function::kMin:
    case Function::kMax: {
      Value x = arg(0), y = arg(1);
      if (!x.is_number() || !y.is_number()) return Value::null();
      bool pick_x = n.function == Function::kMin ? x.number <= y.number : x.number >= y.number;
      return pick_x ? x : y;
    }
    case Function::kStartsWith: {
      Value s = arg(0), p = arg(1);
      return Value::of_bool(string_pair(s, p) && s.text.starts_with(p.text));
    }
    case Function::kEndsWith: {
      Value s = arg(0), p = arg(1);
      return Value::of_bool(string_pair(s, p) && s.text.ends_with(p.text));
    }
    case Function::kContains: {
      Value s = arg(0), p = arg(1);
      return Value::of_bool(string_pair(s, p) && s.text.find(p.text) != std::string_view::npos);
    }
    case Function::kHourOfDay: {
      Value ts = arg(0), off = arg(1);
      if (!ts.is_number() || !off.is_number()) return Value::null();
      double local = ts.number + off.number * 3'600'000.0;
      double day = std::fmod(local, 86'400'000.0);
      if (day < 0) day += 86'400'000.0;
      return Value::of_number(std::floor(day / 3'600'000.0), true);
    }
    case Function::kGeoKm: {
      Value v[4] = {arg(0), arg(1), arg(2), arg(3)};
      for (const auto& x : v) {
        if (!x.is_number()) return Value::null();
      }
      return Value::of_number(geo_distance_km(v[0].number, v[1].number, v[2].number, v[3].number));
    }
    case Function::kExplain:
      for (const auto& e : ctx.explained) {
        if (e.model == n.index) return Value::of_string(e.text);
      }
      return Value::null();
  }
  return Value::null();
}

Value arithmetic(NodeOp op, const Value& x, const Value& y) {
  if (!x.is_number() || !y.is_number()) return Value::null();
  switch (op) {
    case NodeOp::kAdd:
      return Value::of_number(x.number + y.number);
    case NodeOp::kSub:
      return Value::of_number(x.number - y.number);
    case NodeOp::kMul:
      return Value::of_number(x.number * y.number);
    case NodeOp::kDiv:
      if (y.number == 0) return Value::null();
      return Value::of_number(x.number / y.number);
    case NodeOp::kMod:
      if (y.number == 0) return Value::null();
      return Value::of_number(std::fmod(x.number, y.number));
    default:
      return Value::null();
  }
}

}  // namespace

Value evaluate(const EvalContext& ctx, std::uint32_t index) {
  const Node& n = ctx.rules.nodes[index];
  const std::uint32_t* a = ctx.rules.args.data() + n.args_begin;
  switch (n.op) {
    case NodeOp::kConst:
      return n.constant;
    case NodeOp::kField:
      return ctx.event.fields[n.index];
    case NodeOp::kFeature:
      return ctx.features[n.index];
    case NodeOp::kModel:
      return n.index < ctx.models.size() ? ctx.models[n.index] : Value::null();
    case NodeOp::kNot:
      return Value::of_bool(!evaluate(ctx, a[0]).is_true());
    case NodeOp::kAnd:
      return Value::of_bool(evaluate(ctx, a[0]).is_true() && evaluate(ctx, a[1]).is_true());
    case NodeOp::kOr:
      return Value::of_bool(evaluate(ctx, a[0]).is_true() || evaluate(ctx, a[1]).is_true());
    case NodeOp::kNeg: {
      Value x = evaluate(ctx, a[0]);
      return x.is_number() ? Value::of_number(-x.number) : Value::null();
    }
    case NodeOp::kAdd:
    case NodeOp::kSub:
    case NodeOp::kMul:
    case NodeOp::kDiv:
    case NodeOp::kMod:
      return arithmetic(n.op, evaluate(ctx, a[0]), evaluate(ctx, a[1]));
    case NodeOp::kEq:
    case NodeOp::kNe: {
      Value x = evaluate(ctx, a[0]);
      Value y = evaluate(ctx, a[1]);
      if (x.is_null() || y.is_null() || x.kind != y.kind) return Value::of_bool(false);
      bool eq = values_equal(x, y);
      return Value::of_bool(n.op == NodeOp::kEq ? eq : !eq);
    }
    case NodeOp::kLt:
    case NodeOp::kLe:
    case NodeOp::kGt:
    case NodeOp::kGe: {
      auto ord = order_values(evaluate(ctx, a[0]), evaluate(ctx, a[1]));
      if (!ord) return Value::of_bool(false);
      int c = *ord;
      bool r = n.op == NodeOp::kLt ? c < 0 : n.op == NodeOp::kLe ? c <= 0 : n.op == NodeOp::kGt ? c > 0 : c >= 0;
      return Value::of_bool(r);
    }
    case NodeOp::kIsNull:
      return Value::of_bool(evaluate(ctx, a[0]).is_null());
    case NodeOp::kNotNull:
      return Value::of_bool(!evaluate(ctx, a[0]).is_null());
    case NodeOp::kIn:
    case NodeOp::kNotIn: {
      bool in = ctx.rules.lists[n.index].contains(evaluate(ctx, a[0]));
      return Value::of_bool(n.op == NodeOp::kIn ? in : !in);
    }
    case NodeOp::kCall:
      return call(ctx, n);
  }
  return Value::null();
}

void render_reason(const EvalContext& ctx, const RuleDef& rule, std::string& out) {
  for (const auto& part : rule.reason) {
    out.append(part.literal);
    if (part.node) append_display(out, evaluate(ctx, *part.node));
  }
}

}  // namespace fraud

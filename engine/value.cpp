#include "engine/value.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace fraud {

bool values_equal(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kNull:
      return true;
    case ValueKind::kBool:
      return a.boolean == b.boolean;
    case ValueKind::kNumber:
      return a.number == b.number;
    case ValueKind::kString:
    case ValueKind::kComposite:
      return a.text == b.text;
  }
  return false;
}

std::optional<int> order_values(const Value& a, const Value& b) {
  if (a.kind == ValueKind::kNumber && b.kind == ValueKind::kNumber) {
    if (std::isnan(a.number) || std::isnan(b.number)) return std::nullopt;
    return a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
  }
  if (a.kind == ValueKind::kString && b.kind == ValueKind::kString) {
    int c = a.text.compare(b.text);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

namespace {

// Shortest round-trip digits of `d` in Python's repr layout.
void append_python_float(std::string& out, double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // e.g. "-1.2345e+17"
  bool neg = false;
  if (!sci.empty() && sci[0] == '-') {
    neg = true;
    sci.remove_prefix(1);
  }
  auto epos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, epos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  int decpt = exp + 1;  // position of the decimal point relative to digits
  if (neg) out.push_back('-');
  if (decpt > 16 || decpt < -3) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    int ae = exp < 0 ? -exp : exp;
    if (ae < 10) out.push_back('0');
    out.append(std::to_string(ae));
  } else if (decpt <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-decpt), '0');
    out.append(digits);
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out.append(digits);
    out.append(static_cast<size_t>(decpt) - digits.size(), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, decpt);
    out.push_back('.');
    out.append(digits, decpt);
  }
}

}  // namespace

void append_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(d));
    out.append(buf, res.ptr);
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, res.ptr);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

void append_json_text(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      out.append("null");
      return;
    case ValueKind::kBool:
      out.append(v.boolean ? "true" : "false");
      return;
    case ValueKind::kNumber:
      if (v.json_integer && std::fabs(v.number) < 1e19) {
        append_number(out, v.number);
      } else if (!std::isfinite(v.number)) {
        out.append("null");
      } else {
        append_python_float(out, v.number);
      }
      return;
    case ValueKind::kString:
      append_json_string(out, v.text);
      return;
    case ValueKind::kComposite:
      out.append(v.text);
      return;
  }
}

void append_display(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kString:
      out.append(v.text);
      return;
    case ValueKind::kNumber:
      append_number(out, v.number);
      return;
    default:
      append_json_text(out, v);
  }
}

void append_key_text(std::string& out, const Value& v) {
  switch (v.kind) {
    case ValueKind::kNull:
      out.push_back('z');
      return;
    case ValueKind::kBool:
      out.append(v.boolean ? "bt" : "bf");
      return;
    case ValueKind::kNumber: {
      out.push_back('n');
      double d = v.number == 0 ? 0.0 : v.number;  // -0 and 0 are one key
      char buf[64];
      auto res = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, res.ptr);
      return;
    }
    case ValueKind::kString:
      out.push_back('s');
      out.append(v.text);
      return;
    case ValueKind::kComposite:
      out.push_back('c');
      out.append(v.text);
      return;
  }
}

}  // namespace fraud

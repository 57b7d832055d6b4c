#include "engine/event.h"

#include <cmath>
#include <cstring>

#include "engine/time_text.h"

namespace fraud {

FieldTable::FieldTable() {
  nodes_.emplace_back();
  intern("event_id");
  intern("event_type");
  intern("ts");
}

std::uint32_t FieldTable::intern(std::string_view dotted_path) {
  std::uint32_t node = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = dotted_path.find('.', start);
    std::string_view segment = dotted_path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    auto it = nodes_[node].children.find(segment);
    if (it == nodes_[node].children.end()) {
      auto child = static_cast<std::uint32_t>(nodes_.size());
      nodes_[node].children.emplace(std::string(segment), child);
      nodes_.emplace_back();
      node = child;
    } else {
      node = it->second;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (nodes_[node].slot < 0) {
    nodes_[node].slot = static_cast<std::int32_t>(paths_.size());
    paths_.emplace_back(dotted_path);
  }
  return static_cast<std::uint32_t>(nodes_[node].slot);
}

std::optional<std::uint32_t> FieldTable::find(std::string_view dotted_path) const {
  for (std::uint32_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i] == dotted_path) return i;
  }
  return std::nullopt;
}

EventParser::EventParser(const FieldTable& fields, std::size_t max_event_bytes)
    : table_(fields), max_bytes_(max_event_bytes) {}

void EventParser::set_field(std::uint32_t slot, simdjson::dom::element element, Event& out) {
  using simdjson::dom::element_type;
  Value& v = out.fields[slot];
  switch (element.type()) {
    case element_type::NULL_VALUE:
      v = Value::null();
      return;
    case element_type::BOOL:
      v = Value::of_bool(element.get_bool().value_unsafe());
      return;
    case element_type::INT64:
      v = Value::of_number(static_cast<double>(element.get_int64().value_unsafe()), true);
      return;
    case element_type::UINT64:
      v = Value::of_number(static_cast<double>(element.get_uint64().value_unsafe()), true);
      return;
    case element_type::DOUBLE:
      v = Value::of_number(element.get_double().value_unsafe());
      return;
    case element_type::STRING: {
      std::string_view s = element.get_string().value_unsafe();
      pending_.push_back({slot, out.arena.size(), s.size()});
      out.arena.append(s);
      v = Value::of_string({});
      return;
    }
    case element_type::ARRAY:
    case element_type::OBJECT: {
      std::string json = simdjson::minify(element);
      pending_.push_back({slot, out.arena.size(), json.size()});
      out.arena.append(json);
      v = Value::of_composite({});
      return;
    }
  }
}

void EventParser::walk_object(simdjson::dom::object object, std::uint32_t node, Event& out) {
  const auto& children = table_.node(node).children;
  for (auto field : object) {
    auto it = children.find(field.key);
    if (it == children.end()) continue;
    const FieldTable::Node& child = table_.node(it->second);
    if (child.slot >= 0) set_field(static_cast<std::uint32_t>(child.slot), field.value, out);
    if (!child.children.empty() && field.value.type() == simdjson::dom::element_type::OBJECT) {
      walk_object(field.value.get_object().value_unsafe(), it->second, out);
    }
  }
}

namespace {

// Integers beyond 64 bits are valid JSON, which simdjson declines to parse
// (NUMBER_ERROR). Rewrite them as floats ("...0" -> "...0.0") and parse again:
// like most JSON readers, the engine then sees them as (large) numbers.
std::string widen_big_integers(std::string_view in) {
  std::string out;
  out.reserve(in.size() + 16);
  bool in_string = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < in.size()) {
        out.push_back(in[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t j = i + (c == '-' ? 1 : 0);
      std::size_t digits_start = j;
      while (j < in.size() && in[j] >= '0' && in[j] <= '9') ++j;
      bool plain = j == in.size() || (in[j] != '.' && in[j] != 'e' && in[j] != 'E');
      out.append(in.substr(i, j - i));
      if (plain && j - digits_start > 18) out.append(".0");
      i = j - 1;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

bool EventParser::parse(std::string_view bytes, Event& out, EventError& error) {
  if (bytes.size() > max_bytes_) {
    error = {"too_large",
             "event is " + std::to_string(bytes.size()) + " bytes, limit is " + std::to_string(max_bytes_)};
    return false;
  }
  // simdjson reads SIMDJSON_PADDING bytes past the end: copy into a reused
  // padded buffer rather than let it allocate a padded copy per event.
  if (padded_.size() < bytes.size() + simdjson::SIMDJSON_PADDING)
    padded_.resize(bytes.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(padded_.data(), bytes.data(), bytes.size());
  simdjson::dom::element root;
  auto code = parser_.parse(padded_.data(), bytes.size(), false).get(root);
  std::string widened;
  if (code == simdjson::NUMBER_ERROR) {
    widened = widen_big_integers(bytes);
    code = parser_.parse(widened.data(), widened.size(), true).get(root);
  }
  if (code != simdjson::SUCCESS) {
    error = {"invalid_json", std::string("not valid JSON: ") + simdjson::error_message(code)};
    return false;
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    error = {"not_object", "event is not a JSON object"};
    return false;
  }
  out.fields.assign(table_.size(), Value::null());
  out.arena.clear();
  pending_.clear();
  walk_object(root.get_object().value_unsafe(), 0, out);
  for (const auto& p : pending_) {
    out.fields[p.slot].text = std::string_view(out.arena.data() + p.offset, p.length);
  }

  auto fail = [&error](std::string_view reason, std::string detail) {
    error = {reason, std::move(detail)};
    return false;
  };
  const Value& id = out.fields[FieldTable::kEventId];
  if (id.is_null()) return fail("missing_field", "missing required field event_id");
  if (!id.is_string() || id.text.empty()) return fail("invalid_field", "event_id must be a non-empty string");
  const Value& type = out.fields[FieldTable::kEventType];
  if (type.is_null()) return fail("missing_field", "missing required field event_type");
  if (!type.is_string() || type.text.empty()) return fail("invalid_field", "event_type must be a non-empty string");
  const Value& ts = out.fields[FieldTable::kTs];
  if (ts.is_null()) return fail("missing_field", "missing required field ts");
  if (ts.is_string()) {
    auto ms = parse_rfc3339_ms(ts.text);
    if (!ms) return fail("invalid_field", "ts is not an RFC 3339 date-time");
    out.ts_ms = *ms;
  } else if (ts.is_number() && ts.json_integer && std::fabs(ts.number) < 9.0e15) {
    out.ts_ms = static_cast<std::int64_t>(ts.number);
  } else {
    return fail("invalid_field", "ts must be an RFC 3339 string or integer milliseconds since the epoch");
  }
  out.event_id = id.text;
  out.event_type = type.text;
  return true;
}

}  // namespace fraud

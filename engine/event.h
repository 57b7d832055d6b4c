// Events: the parsed, validated form of one input message.
//
// The rule pack decides which dotted paths the engine ever reads; they are
// interned in a FieldTable (a path trie with one slot per path). Parsing
// walks the JSON once and fills only those slots, so the cost of an event
// does not grow with fields nobody reads.
//
// Thread safety: FieldTable is immutable after the RuleSet is compiled and
// may be shared. EventParser holds simdjson buffers: one per thread.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/value.h"

namespace fraud {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class FieldTable {
 public:
  // Slots every event has, in this order.
  static constexpr std::uint32_t kEventId = 0;
  static constexpr std::uint32_t kEventType = 1;
  static constexpr std::uint32_t kTs = 2;

  struct Node {
    std::int32_t slot = -1;  // -1: an intermediate object, not read itself
    std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> children;
  };

  FieldTable();

  // Returns the slot of `dotted_path` ("device.id"), adding it if new.
  std::uint32_t intern(std::string_view dotted_path);
  std::size_t size() const { return paths_.size(); }
  // The slot of a path interned before, if any.
  std::optional<std::uint32_t> find(std::string_view dotted_path) const;
  const std::string& path(std::uint32_t slot) const { return paths_[slot]; }
  const Node& node(std::uint32_t index) const { return nodes_[index]; }

 private:
  std::vector<std::string> paths_;
  std::vector<Node> nodes_;  // nodes_[0] is the root object
};

struct Event {
  std::string_view event_id;
  std::string_view event_type;
  std::int64_t ts_ms = 0;
  std::vector<Value> fields;  // indexed by FieldTable slot; missing = null
  std::string arena;          // owns the text the string Values point into

  const Value& field(std::uint32_t slot) const { return fields[slot]; }
};

// Why a message is not an event. `reason` is a stable, bounded label (used as
// the DLQ header and a metrics label); `detail` is for humans.
struct EventError {
  std::string_view reason;  // too_large | invalid_json | not_object | missing_field | invalid_field
                            // (the sink adds verdict_too_large | output_rejected)
  std::string detail;
};

class EventParser {
 public:
  static constexpr std::size_t kDefaultMaxBytes = 1 << 20;

  explicit EventParser(const FieldTable& fields, std::size_t max_event_bytes = kDefaultMaxBytes);

  // Parses `bytes` into `out` (its buffers are reused). Returns false and
  // fills `error` if the message is not a valid event. Never throws.
  bool parse(std::string_view bytes, Event& out, EventError& error);

 private:
  struct PendingText {
    std::uint32_t slot;
    std::size_t offset;
    std::size_t length;
  };
  void walk_object(simdjson::dom::object object, std::uint32_t node, Event& out);
  void set_field(std::uint32_t slot, simdjson::dom::element element, Event& out);

  const FieldTable& table_;
  std::size_t max_bytes_;
  simdjson::dom::parser parser_;
  std::vector<char> padded_;  // input copy with simdjson's padding, reused
  std::vector<PendingText> pending_;
};

}  // namespace fraud

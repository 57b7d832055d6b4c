// The few MessagePack forms the feature script exchanges with the engine
// (Redis's Lua has cmsgpack built in): one request blob per batch and node,
// one reply blob. Writing: arrays, nil, integers, doubles, short strings.
// Reading: arrays, nil, booleans, integers and floats (as double), strings.
// Nothing else is needed; anything else read is an error value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fraud::msgpack {

void write_array_header(std::string& out, std::uint32_t n);
void write_nil(std::string& out);
void write_int(std::string& out, std::int64_t v);
void write_double(std::string& out, double v);
// An integer form when `v` is integral and exact as one (|v| <= 2^53), else a double.
void write_number(std::string& out, double v);
void write_str(std::string& out, std::string_view s);

// One scalar as read from a blob.
struct Scalar {
  enum Kind { kNil, kFalse, kTrue, kNumber, kString } kind = kNil;
  double number = 0;
  std::string_view text;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  // Array header: its length; nullopt if the next item is not an array (an
  // empty map also reads as an empty array: cmsgpack packs {} as a map).
  std::optional<std::uint32_t> array_header();
  std::optional<Scalar> scalar();
  bool at_end() const { return pos_ == data_.size(); }

 private:
  bool take(std::size_t n, const char*& p);
  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace fraud::msgpack

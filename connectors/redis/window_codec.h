// The feature script's per-key state layout (see feature_script.h), written
// and read by the engine: the Redis store computes on cached WindowStates and
// writes them back in exactly the form the script reads, and reads back what
// the script wrote when it had to compute itself.
//
// A stored value is "\xc1" + an 8-byte stamp + the MessagePack body. The
// stamp changes with every write (random, chosen by the writing engine), so
// "the value still carries the stamp I last saw" means "nobody wrote since".
// 0xc1 is never the first byte of a MessagePack array, so values written
// before stamps existed (a bare body) are told apart.
#pragma once

#include <string>
#include <string_view>

#include "engine/rule_set.h"
#include "engine/window_state.h"

namespace fraud {

inline constexpr char kStampMark = '\xc1';
inline constexpr std::size_t kStampSize = 9;  // the mark and 8 stamp bytes

// Appends the body of `s` (buckets that are not kept left out) for feature `f`.
void encode_window_state(const WindowState& s, const FeatureDef& f, std::string& out);

// Reads a body written by encode_window_state or by the script. False (and
// `s` unspecified) if it is not one.
bool decode_window_state(std::string_view body, const FeatureDef& f, WindowState& s);

// Splits a stored value into its stamp (mark included; empty when the value
// has none) and body.
inline void split_stored_state(std::string_view value, std::string_view& stamp, std::string_view& body) {
  if (value.size() >= kStampSize && value[0] == kStampMark) {
    stamp = value.substr(0, kStampSize);
    body = value.substr(kStampSize);
  } else {
    stamp = {};
    body = value;
  }
}

}  // namespace fraud

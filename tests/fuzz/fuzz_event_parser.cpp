// libFuzzer target: the event parser on arbitrary bytes (the shipped pack's
// field table). It must never crash, and must classify every input as an
// event with valid required fields or one of the documented DLQ reasons.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/event.h"
#include "engine/pack_loader.h"

namespace {

const fraud::RuleSet& pack() {
  static const auto rules = [] {
    auto r = fraud::load_pack_directory(FRAUD_SOURCE_DIR "/rules");
    if (!r.ok()) std::abort();
    return r.rules;
  }();
  return *rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fraud::EventParser parser(pack().fields, 1 << 16);
  fraud::Event ev;
  fraud::EventError err;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (parser.parse(bytes, ev, err)) {
    if (ev.event_id.empty() || ev.event_type.empty()) std::abort();
  } else {
    std::string_view r = err.reason;
    if (r != "too_large" && r != "invalid_json" && r != "not_object" && r != "missing_field" && r != "invalid_field") {
      std::abort();
    }
  }
  return 0;
}

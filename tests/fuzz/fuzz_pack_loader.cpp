// libFuzzer target: the rule-pack loader (YAML reader, collector, expression
// parser and compiler) on arbitrary text as one rule file. It must never
// crash, hang or grow without bound; a pack either compiles or has errors.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/pack_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  fraud::PackLoadResult r = fraud::compile_pack({{"fuzz.yaml", text}});
  if (r.ok() == r.diagnostics.has_errors()) std::abort();
  return 0;
}

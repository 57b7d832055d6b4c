// The shipped rule pack (rules/), loaded once per benchmark process.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "engine/pack_loader.h"

namespace fraud::bench {

inline std::shared_ptr<const RuleSet> shipped_pack() {
  static auto pack = load_pack_directory(std::string(FRAUD_SOURCE_DIR) + "/rules");
  if (!pack.ok()) throw std::runtime_error(pack.diagnostics.to_text());
  return pack.rules;
}

}  // namespace fraud::bench

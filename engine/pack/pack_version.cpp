#include "engine/pack/pack_compiler.h"

namespace fraud::pack {

void PackCompiler::compute_version() {
  // The version depends on file names and contents only, never on where
  // the pack directory is mounted.
  std::vector<std::tuple<std::string, std::string, const std::string*>> parts;
  for (const auto& f : files_) parts.emplace_back(f.path.substr(f.path.find_last_of('/') + 1), f.path, &f.text);
  for (const auto& [name, text] : list_file_texts_) parts.emplace_back("list:" + name, "list:" + name, &text);
  for (const auto& [name, text] : model_file_texts_) parts.emplace_back("model:" + name, "model:" + name, &text);
  std::sort(parts.begin(), parts.end());
  Sha256 whole;
  for (const auto& [base, path, text] : parts) {
    whole.update(base);
    whole.update(std::string_view("\0", 1));
    whole.update(*text);
    whole.update(std::string_view("\0", 1));
    rs_->files.push_back({path, sha256_hex(*text)});
  }
  rs_->version = whole.hex_digest();
}

}  // namespace fraud::pack

#include "engine/pipeline/byte_arena.h"

#include <algorithm>
#include <cstring>

namespace fraud {

std::string_view ByteArena::store(std::string_view bytes) {
  if (bytes.empty()) return {};
  while (current_ < chunks_.size() && chunks_[current_].size - chunks_[current_].used < bytes.size()) ++current_;
  if (current_ == chunks_.size()) {
    Chunk c;
    c.size = std::max(kChunkBytes, bytes.size());
    c.data = std::make_unique<char[]>(c.size);
    chunks_.push_back(std::move(c));
  }
  Chunk& c = chunks_[current_];
  char* at = c.data.get() + c.used;
  std::memcpy(at, bytes.data(), bytes.size());
  c.used += bytes.size();
  return {at, bytes.size()};
}

void ByteArena::reset() {
  // Oversized chunks (one huge record) and chunks beyond the cap go.
  std::erase_if(chunks_, [](const Chunk& c) { return c.size > kChunkBytes; });
  if (chunks_.size() > kKeepChunks) chunks_.resize(kKeepChunks);
  for (Chunk& c : chunks_) c.used = 0;
  current_ = 0;
}

}  // namespace fraud

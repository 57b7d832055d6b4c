// ByteArena: storage for the bytes of a batch's records when the source does
// not keep them itself (a file's lines). Views it returns stay valid until
// reset(); chunks are kept for reuse, except beyond a cap.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

namespace fraud {

class ByteArena {
 public:
  static constexpr std::size_t kChunkBytes = 256 * 1024;
  static constexpr std::size_t kKeepChunks = 16;

  std::string_view store(std::string_view bytes);
  void reset();

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    std::size_t size = 0, used = 0;
  };
  std::vector<Chunk> chunks_;
  std::size_t current_ = 0;  // the chunk being filled
};

}  // namespace fraud

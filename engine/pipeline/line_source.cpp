#include "engine/pipeline/line_source.h"

namespace fraud {

EventSource::Poll LineSource::next(int, SourceRecord& out, ByteArena& arena) {
  while (true) {
    // A bounded getline: beyond max_line_bytes + 1 the rest of the line is
    // read and dropped in chunks.
    line_.clear();
    bool any = false;
    while (true) {
      in_.getline(chunk_, sizeof chunk_);
      const std::streamsize got = in_.gcount();
      if (got > 0) any = true;
      const bool full = in_.fail() && !in_.eof() && got == static_cast<std::streamsize>(sizeof chunk_) - 1;
      const std::size_t text =
          static_cast<std::size_t>(full || in_.eof() ? got : std::max<std::streamsize>(got - 1, 0));
      if (line_.size() <= max_line_bytes_) line_.append(chunk_, std::min(text, max_line_bytes_ + 1 - line_.size()));
      if (full) {
        in_.clear();
        continue;
      }
      break;
    }
    if (!any && !in_) return Poll::kEnd;
    ++lines_;
    if (line_.find_first_not_of(" \t\r") == std::string::npos) continue;
    out = SourceRecord{};
    out.value = arena.store(line_);
    out.partition = 0;
    out.offset = static_cast<std::int64_t>(lines_ - 1);
    return Poll::kRecord;
  }
}

void LineSource::commit(std::span<const Position> positions) {
  for (const Position& p : positions) committed_ = std::max(committed_, p.next_offset);
}

}  // namespace fraud

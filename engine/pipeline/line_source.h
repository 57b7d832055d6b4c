// LineSource: JSON lines from a stream (replay, diff, backtest, rule tests).
// One partition; a record's offset is its line number - 1; blank lines are
// skipped (and counted). Lines longer than `max_line_bytes` are not kept:
// the record is the line's first max_line_bytes + 1 bytes, so the parser
// refuses it as too large and memory stays bounded.
#pragma once

#include <istream>
#include <string>

#include "engine/pipeline/event_source.h"

namespace fraud {

class LineSource final : public EventSource {
 public:
  LineSource(std::istream& in, std::string name, std::size_t max_line_bytes = std::size_t{1} << 20)
      : in_(in), name_(std::move(name)), max_line_bytes_(max_line_bytes) {}

  std::string_view name() const override { return name_; }
  Poll next(int wait_ms, SourceRecord& out, ByteArena& arena) override;
  void commit(std::span<const Position> positions) override;

  std::uint64_t lines() const { return lines_; }
  std::int64_t committed() const { return committed_; }  // next line index all output reached

 private:
  std::istream& in_;
  std::string name_;
  std::size_t max_line_bytes_;
  std::string line_;
  char chunk_[64 * 1024];
  std::uint64_t lines_ = 0;
  std::int64_t committed_ = 0;
};

}  // namespace fraud

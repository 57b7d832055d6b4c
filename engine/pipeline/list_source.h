// ListSource: records from a list held by the caller (rule tests, benches).
// One partition; a record's offset is its index.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "engine/pipeline/event_source.h"

namespace fraud {

class ListSource final : public EventSource {
 public:
  ListSource(std::span<const std::string> values, std::string name) : values_(values), name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  Poll next(int, SourceRecord& out, ByteArena&) override {
    if (next_ >= values_.size()) return Poll::kEnd;
    out = SourceRecord{};
    out.value = values_[next_];
    out.offset = static_cast<std::int64_t>(next_++);
    return Poll::kRecord;
  }
  void commit(std::span<const Position>) override {}

 private:
  std::span<const std::string> values_;
  std::string name_;
  std::size_t next_ = 0;
};

}  // namespace fraud

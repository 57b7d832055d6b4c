// EventSource: where the pipeline's records come from (a Kafka consumer
// group, a JSON-lines file, a test's list), and where it reports how far the
// output is safe.
//
// Contract:
//  - next() is called by one thread, the pipeline's poll loop. It may call
//    back into the listener (a Kafka rebalance revoking partitions calls
//    before_revoke(), which returns when every record polled so far has been
//    produced, acknowledged and committed, or the pipeline failed).
//  - A record's bytes stay valid until release() is called for it (the
//    source's own buffers, or `arena`, which the pipeline resets after
//    release()).
//  - commit() receives, in source order, the position after each batch
//    whose every output record was acknowledged; never a position past a
//    record that is unacknowledged or failed (AckTracker). It may be called
//    from any thread, one call at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/pipeline/byte_arena.h"

namespace fraud {

struct SourceRecord {
  std::string_view value;
  std::string_view key;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t record_ts_ms = -1;  // when the record was written; -1: unknown
  const void* handle = nullptr;    // the source's own record (a Kafka message), for its sink
};

// The next position to read in a partition (last offset + 1).
struct Position {
  std::int32_t partition = 0;
  std::int64_t next_offset = 0;
};

// Moves `partition`'s entry of `positions` to at least `next_offset` (adds it
// if the partition has none yet).
inline void advance_position(std::vector<Position>& positions, std::int32_t partition, std::int64_t next_offset) {
  for (Position& p : positions) {
    if (p.partition == partition) {
      if (next_offset > p.next_offset) p.next_offset = next_offset;
      return;
    }
  }
  positions.push_back({partition, next_offset});
}

class SourceListener {
 public:
  virtual ~SourceListener() = default;
  // Partitions are about to go: finish everything polled so far.
  virtual void before_revoke() = 0;
};

class EventSource {
 public:
  enum class Poll { kRecord, kNone, kEnd, kFatal };

  virtual ~EventSource() = default;
  // The name verdicts carry in `source.topic`.
  virtual std::string_view name() const = 0;
  // Called once before the first next(), from the poll thread.
  virtual void start(SourceListener&) {}
  // Waits up to `wait_ms` for the next record. kNone: nothing yet; kEnd: the
  // source is exhausted (files); kFatal: it cannot go on (fatal_reason()).
  virtual Poll next(int wait_ms, SourceRecord& out, ByteArena& arena) = 0;
  virtual void release(std::span<const SourceRecord>) {}
  virtual void commit(std::span<const Position> positions) = 0;
  // After the last batch was acknowledged: the final commit, leave the group.
  virtual void finish() {}
  virtual std::string fatal_reason() const { return {}; }
};

}  // namespace fraud

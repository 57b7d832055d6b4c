// AckTracker: turns per-record completions, arriving in any order and from
// any thread, into the source positions that are safe to commit.
//
// Batches are opened in source order (one thread: the produce stage). Each
// has one slot per output record plus one hold released by close() once all
// its records are handed to the sink. A batch is complete when all its slots
// completed and it is closed. Complete batches retire strictly in the order
// they were opened, under one lock: the batch's positions are committed
// unless this batch or any earlier one failed (a failed record, or a batch
// abandoned unproduced); from the first failure on nothing more is committed,
// so a restart reads again from the first record that has no output.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "engine/pipeline/event_source.h"

namespace fraud {

class AckTracker;

// One output record waiting for its acknowledgement. Sinks may use
// `sink_flags` for their own bookkeeping (a reroute done once).
struct RecordSlot {
  AckTracker* tracker = nullptr;
  void* batch = nullptr;  // the tracker's
  std::int64_t source_ts_ms = -1;
  std::int64_t source_offset = -1;
  std::int32_t source_partition = -1;
  std::uint32_t sink_flags = 0;

  // Exactly once per slot: delivered (true) or failed for good (false).
  void done(bool ok);
};

class AckTracker {
 public:
  struct Callbacks {
    std::function<void(std::span<const Position>)> commit;  // under the tracker's lock, in order
    std::function<void()> retired;                          // a batch left (after its commit)
    std::function<void(std::string_view)> failed;           // a record or batch failed (once per failure)
  };
  explicit AckTracker(Callbacks callbacks) : cb_(std::move(callbacks)) {}
  ~AckTracker();
  AckTracker(const AckTracker&) = delete;
  AckTracker& operator=(const AckTracker&) = delete;

  class Batch;
  // Opens the next batch: `records` slots, committing `next` when retired.
  Batch* open(std::vector<Position> next, std::size_t records);
  RecordSlot& slot(Batch* b, std::size_t i);
  // All its records were handed over (each will call done()).
  void close(Batch* b);
  // A batch that will not be produced (stopping while the store is down):
  // nothing from it on is committed. Not reported as a failure.
  void abandon(std::vector<Position> next);

  void complete(RecordSlot& slot, bool ok);
  // Once any batch failed, no later position is committed.
  bool frozen() const { return frozen_.load(); }
  std::size_t open_batches() const;

 private:
  void finish(Batch* b);

  Callbacks cb_;
  mutable std::mutex mu_;
  std::deque<Batch*> open_;  // in source order
  std::atomic<bool> frozen_{false};
};

}  // namespace fraud

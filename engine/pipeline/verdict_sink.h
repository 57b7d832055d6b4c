// VerdictSink: where the pipeline's output goes (the verdict and dead-letter
// topics, a file, a test's collection).
//
// Contract: send_verdict() and send_dead_letter() are called by one thread
// (the produce stage), in source order, while the record, its event and its
// verdict are alive; a sink that keeps anything copies it. Each call returns
// false if the record was refused at once (then the pipeline fails the slot);
// otherwise the sink calls slot.done(ok) exactly once, now or later, from any
// thread (a delivery report). flush() waits until every sent record is done.
//
// Transactional sinks (Kafka exactly-once) also get the batch boundaries:
// begin_batch() before a batch's records, end_batch() after them with the
// positions after the batch (produced false: the batch was dropped, nothing
// after it may be committed), and commit_output() when partitions are about
// to be revoked and at shutdown, after every record was acknowledged. Any of
// them (and tick()) returning false fails the pipeline.
#pragma once

#include <span>
#include <string_view>

#include "engine/batch_processor.h"
#include "engine/event.h"
#include "engine/pipeline/ack_tracker.h"
#include "engine/pipeline/event_source.h"

namespace fraud {

struct VerdictOut {
  const SourceRecord& record;
  const Event& event;
  const Verdict& verdict;
  std::span<const Value> features;     // by feature index, null where not read
  std::string_view json;               // the verdict as RULES.md encodes it
  std::span<const Value> models = {};  // scores by model id, null where not scored
};

struct DeadLetterOut {
  const SourceRecord& record;
  std::string_view reason;  // bounded set: invalid_json, too_large, ...
  std::string_view detail;
};

class VerdictSink {
 public:
  virtual ~VerdictSink() = default;
  virtual bool send_verdict(const VerdictOut& out, RecordSlot& slot) = 0;
  virtual bool send_dead_letter(const DeadLetterOut& out, RecordSlot& slot) = 0;
  // Once per poll-loop turn, from the poll thread (refresh limits, ...).
  virtual bool tick() { return true; }
  virtual bool begin_batch() { return true; }
  virtual bool end_batch(std::span<const Position> /*positions*/, bool /*produced*/) { return true; }
  virtual bool commit_output() { return true; }
  // Waits up to `timeout_ms` for every sent record to be done.
  virtual void flush(int /*timeout_ms*/) {}
};

}  // namespace fraud

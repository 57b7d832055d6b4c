// PipelineBatch: one batch of records and everything made from them, as it
// moves through the stages; BatchPool recycles them so buffers keep their
// capacity and the steady state allocates little per event.
#pragma once

#include <prometheus/gauge.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/batch_processor.h"
#include "engine/event.h"
#include "engine/metrics.h"
#include "engine/pipeline/byte_arena.h"
#include "engine/pipeline/event_source.h"
#include "engine/rule_set.h"

namespace fraud {

// Rule hit counts of one pack (by rule index), for /stats.
struct RuleHitCounts {
  explicit RuleHitCounts(std::size_t n) : hits(n) {}
  std::vector<std::atomic<std::uint64_t>> hits;
};

struct PipelineBatch {
  // The pack current when the batch closed (a reload applies from the next).
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const RuleSetMetrics> rule_metrics;
  std::shared_ptr<RuleHitCounts> hit_counts;

  std::vector<SourceRecord> records;
  ByteArena arena;            // record bytes a source does not keep itself
  std::vector<Event> events;  // one per record (valid or not)
  std::vector<std::uint8_t> valid;
  std::vector<EventError> errors;
  std::vector<const Event*> ptrs;  // valid events, in order
  std::vector<SourceRef> sources;
  BatchProcessor processor;
  StoreStatus store_status;
  std::vector<Verdict> verdicts;
  std::vector<std::string> encoded;
  bool failed = false;       // not evaluated (store failure while stopping): never produced
  bool degraded = false;     // evaluated without features (fail_open / fail_closed)
  bool state_reset = false;  // evaluated on features the store had just lost (marked degraded)
  // Evaluate stage: per-batch tallies, added to the shared counters by the
  // produce stage (serial), so the parallel stage takes no lock.
  std::uint64_t decisions[3] = {0, 0, 0};
  std::vector<std::uint64_t> rule_hits;
  // Kept across uses: the parser (bound to the field table of
  // `parser_rules`) and the evaluation scratch.
  std::shared_ptr<const RuleSet> parser_rules;
  std::optional<EventParser> parser;
  EvalScratch scratch;

  explicit PipelineBatch(BatchProcessor::Options o) : processor(o) {}

  // Back to an empty batch, keeping buffers (except unusually big ones).
  void reset();
  // The parser for this batch's pack (a new one only when the pack changed).
  EventParser& parser_for(std::size_t max_event_bytes);
};

// Batches that finished, ready to be filled again. At most `keep` are kept.
class BatchPool {
 public:
  BatchPool(std::size_t keep, BatchProcessor::Options options, prometheus::Gauge& allocated)
      : keep_(keep), options_(options), allocated_(allocated) {}
  ~BatchPool();
  BatchPool(const BatchPool&) = delete;
  BatchPool& operator=(const BatchPool&) = delete;

  PipelineBatch* take();
  void give_back(PipelineBatch* b);

 private:
  std::size_t keep_;
  BatchProcessor::Options options_;
  prometheus::Gauge& allocated_;
  std::mutex mu_;
  std::vector<PipelineBatch*> spare_;
};

}  // namespace fraud

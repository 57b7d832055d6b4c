// Pipeline: records in from an EventSource, verdicts and dead letters out to
// a VerdictSink, feature state in a FeatureStore; the engine's whole data
// path, the same for every mode.
//
//   poll thread      source.next() -> batches of up to batch_size records
//                    (natural batching, see PipelineConfig::batch_wait_ms)
//   oneTBB pipeline  (up to max_in_flight batches at once)
//     parse          parallel            BatchStages::parse
//     features       serial, in order    BatchStages::features
//     evaluate       parallel            BatchStages::evaluate
//     produce        serial, in order    to the sink: one verdict per valid
//                                        event, one dead letter per invalid
//                                        record; tallies to counters
//   AckTracker       completions -> positions committed to the source, in
//                    order, never past an unacknowledged or failed record.
//
// Memory: a batch is recycled as soon as it is produced (a sink that needs
// the record later keeps a copy); until acknowledged only its positions and
// one slot per record wait. At most 2 x max_in_flight + 2 batches exist.
//
// Guarantees: every record ends as one verdict or one dead letter before its
// position can be committed; a failed record freezes commits (a restart
// reads it again). On revocation (SourceListener::before_revoke) everything
// polled is finished first. Rules can be swapped between batches.
//
// Thread safety: run() blocks the calling thread; stop(), swap_rules(),
// counters() and rule_hits() may be used from any thread.
#pragma once

#include <oneapi/tbb/concurrent_queue.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string_view>

#include "engine/feature_store.h"
#include "engine/metrics.h"
#include "engine/pipeline/ack_tracker.h"
#include "engine/pipeline/batch_stages.h"
#include "engine/pipeline/clock.h"
#include "engine/pipeline/event_source.h"
#include "engine/pipeline/pipeline_batch.h"
#include "engine/pipeline/pipeline_config.h"
#include "engine/pipeline/verdict_sink.h"

namespace fraud {

class Pipeline final : private SourceListener {
 public:
  Pipeline(PipelineConfig config, std::shared_ptr<const RuleSet> rules, EventSource& source, VerdictSink& sink,
           FeatureStore& store, EngineMetrics& metrics, PipelineCounters& counters,
           Clock& clock = SystemClock::instance());
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Runs until stop(), a fatal error or the end of the source; then finishes
  // the batches in flight, waits for their acknowledgements (flush_ms at
  // most) and lets the source finish. 0: clean; 1: a fatal error.
  int run(int flush_ms = 60'000);
  void stop() { stopping_.store(true); }
  // Fatal: health turns red, the pipeline stops.
  void fail(std::string_view why);
  bool failed() const { return fatal_.load(); }

  void swap_rules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const RuleSet> rules() const;
  std::uint64_t rule_hits(std::size_t rule) const;  // of the current pack
  const AckTracker& tracker() const { return tracker_; }

 private:
  void before_revoke() override;
  void poll_loop();
  void submit(PipelineBatch* b);
  void produce(PipelineBatch& b);
  void drain();
  void retired();
  std::vector<Position> positions_of(const PipelineBatch& b) const;

  PipelineConfig config_;
  EventSource& source_;
  VerdictSink& sink_;
  FeatureStore& store_;
  EngineMetrics& metrics_;
  PipelineCounters& counters_;
  Clock& clock_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fatal_{false};
  BatchStages stages_;
  AckTracker tracker_;

  mutable std::mutex rules_mu_;
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<const RuleSetMetrics> rule_metrics_;
  std::shared_ptr<RuleHitCounts> hit_counts_;

  tbb::concurrent_bounded_queue<PipelineBatch*> queue_;
  BatchPool pool_;
  std::atomic<std::int64_t> in_flight_{0};     // batches polled and not yet retired
  std::atomic<std::int64_t> before_store_{0};  // batches submitted that have not left the features stage
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
  PipelineBatch* filling_ = nullptr;  // the batch the poll thread fills (poll thread only)
};

}  // namespace fraud

// Running a pack over a finite source in process: replay, diff, backtest and
// rule tests. The same Pipeline as production, with a sink that hands each
// output to a callback at once (and acknowledges it).
#pragma once

#include <functional>
#include <memory>

#include "engine/feature_store.h"
#include "engine/pipeline/pipeline.h"

namespace fraud {

class CallbackSink final : public VerdictSink {
 public:
  using OnVerdict = std::function<void(const VerdictOut&)>;
  using OnDeadLetter = std::function<void(const DeadLetterOut&)>;
  CallbackSink(OnVerdict on_verdict, OnDeadLetter on_dead_letter)
      : on_verdict_(std::move(on_verdict)), on_dead_letter_(std::move(on_dead_letter)) {}
  bool send_verdict(const VerdictOut& out, RecordSlot& slot) override {
    if (on_verdict_) on_verdict_(out);
    slot.done(true);
    return true;
  }
  bool send_dead_letter(const DeadLetterOut& out, RecordSlot& slot) override {
    if (on_dead_letter_) on_dead_letter_(out);
    slot.done(true);
    return true;
  }

 private:
  OnVerdict on_verdict_;
  OnDeadLetter on_dead_letter_;
};

// A pack held elsewhere, as the pipeline takes it (not owned).
inline std::shared_ptr<const RuleSet> borrowed(const RuleSet& rules) {
  return std::shared_ptr<const RuleSet>(std::shared_ptr<const RuleSet>(), &rules);
}

// Runs `rules` over `source` to its end. Local runs default to one batch in
// flight at a time on the calling thread's pool, fail_open on store errors
// (verdicts marked degraded) and no idempotency positions (line numbers are
// not Kafka offsets).
inline PipelineConfig local_config(std::size_t batch_size = 2048) {
  PipelineConfig c;
  c.batch_size = batch_size;
  c.batch_wait_ms = 0;
  c.failure_policy = StoreFailurePolicy::kFailOpen;
  c.idempotent = false;
  return c;
}

int run_to_end(const PipelineConfig& config, const RuleSet& rules, EventSource& source, VerdictSink& sink,
               FeatureStore& store);

}  // namespace fraud

// BatchProcessor: turns a batch of parsed events into verdicts.
//
// Three steps, so the streaming pipeline can run them in different stages:
//   plan(...)      computes every feature operation of the batch, in event
//                  order (entity keys, buckets, `where` filters, reads needed
//                  by the rules of each event's type);
//   store.apply()  one call per batch (one Redis round trip per node);
//   evaluate(i)    evaluates the rules of event i against its feature values
//                  and fills its Verdict; independent per event, so callers
//                  may run it in parallel with one EvalScratch per thread.
// The pipeline's stages (engine/pipeline/batch_stages.h) run the three;
// nothing else does (BatchRunner runs those stages synchronously).
//
// Ownership: the events must stay alive and unchanged from plan() until the
// last evaluate() of the batch. Buffers are reused across batches, so the
// steady state allocates nothing per event beyond reason strings that grow.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/evaluator.h"
#include "engine/event.h"
#include "engine/feature_store.h"
#include "engine/model_scorer.h"
#include "engine/rule_set.h"

namespace fraud {

// Where an event came from: the Kafka position, or the replay file and line.
struct SourceRef {
  std::string_view topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  // When the record was written (Kafka's record timestamp; replay's
  // --record-time field), ms since the epoch; -1: unknown, no future check.
  std::int64_t record_ts_ms = -1;
};

struct RuleHit {
  std::uint32_t rule = 0;
  std::string reason;
};

struct Verdict {
  Decision decision = Decision::kAllow;
  double score = 0;
  std::vector<RuleHit> hits;         // enforce-mode rules that matched, pack order
  std::vector<RuleHit> shadow_hits;  // shadow-mode rules that matched
  std::size_t hit_count = 0;         // valid entries of `hits` (buffers are reused)
  std::size_t shadow_count = 0;
  bool degraded = false;  // features unavailable (fail_open / fail_closed)
  // The event's own `ts` when it was more than settings.max_future ahead of
  // its record time and features used record time + max_future instead
  // (RULES.md "Late events"); INT64_MIN: not clamped.
  std::int64_t ts_clamped_from = INT64_MIN;
  // Features for which the event was too late (RULES.md "Late events"),
  // feature ids; valid entries: late_count (buffers are reused).
  std::vector<std::uint32_t> late_features;
  std::size_t late_count = 0;
  // Scored models read by matched rules (either mode), with their
  // explanations; valid entries: model_count (buffers are reused).
  std::vector<ModelOutput> models;
  std::size_t model_count = 0;
};

class BatchProcessor {
 public:
  struct Options {
    bool read_all_features = false;  // rule tests: compute every feature of the type
    bool idempotent = false;         // pass source positions to the store
  };

  BatchProcessor() = default;
  explicit BatchProcessor(Options options) : options_(options) {}

  void plan(const RuleSet& rules, std::span<const Event* const> events, std::span<const SourceRef> sources);
  std::span<const FeatureOp> ops() const { return ops_; }
  std::span<FeatureOp> ops_to_digest() { return ops_; }  // for FeatureStore::digest between plan and apply
  std::span<Value> results() { return results_; }
  // Events of the last plan whose time was clamped to record time + max_future.
  std::size_t clamped_events() const { return clamped_events_; }
  // After store.apply: the ops it found too late (StoreStatus::late_ops), so
  // evaluate() lists their features in the verdicts.
  void mark_late(std::span<const std::uint32_t> late_ops);
  // After the store (and mark_late), before evaluate(): scores the events
  // that need a model's score, one predict call per model (ModelScorer).
  // With `degraded`, nothing is scored.
  void score_models(const RuleSet& rules, EvalScratch& scratch, bool degraded = false);
  // The scores model m gave in this batch.
  std::span<const float> model_scores(std::size_t m) const {
    return scored_ ? scorer_.scores(m) : std::span<const float>();
  }
  std::span<const Value> model_scores_of(std::size_t i) const {
    return scored_ ? scorer_.scores_of(i) : std::span<const Value>();
  }

  // Feature values of event i after the store applied the ops. With
  // `degraded`, every feature reads null (failure policies).
  void evaluate(const RuleSet& rules, std::size_t i, Verdict& out, EvalScratch& scratch, bool degraded = false);

  // Values of all features for event i (null where not planned or not read).
  std::span<const Value> features_of(std::size_t i) const {
    return {feature_values_.data() + i * feature_count_, feature_count_};
  }

 private:
  struct PendingText {
    std::size_t op;
    std::size_t key_offset, key_length;
    std::size_t of_offset, of_length;
  };

  Options options_;
  std::vector<FeatureOp> ops_;
  std::vector<Value> results_;
  std::vector<std::uint8_t> late_;              // per op: too late (mark_late)
  std::vector<std::uint32_t> event_ops_begin_;  // per event, plus an end marker
  std::vector<const TypePlan*> plans_;          // per event: its type's plan
  std::vector<PendingText> pending_;
  std::string arena_;
  std::vector<Value> feature_values_;
  std::size_t feature_count_ = 0;
  std::vector<const Event*> events_;
  std::vector<std::int64_t> clamped_from_;  // per event: original ts if clamped, else INT64_MIN
  std::size_t clamped_events_ = 0;
  EvalScratch where_scratch_;
  ModelScorer scorer_;
  bool scored_ = false;           // score_models ran for this batch
  bool features_filled_ = false;  // score_models filled every event's feature values
  void fill_features(std::size_t i);
};

// Appends one verdict as a JSON object (no newline), RULES.md format.
void encode_verdict(const RuleSet& rules, const Event& event, const Verdict& verdict, std::span<const Value> features,
                    const SourceRef& source, std::string& out);

}  // namespace fraud

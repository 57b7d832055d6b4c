// The pipeline (engine/pipeline/) in process, with fake sources and sinks
// and a manual clock: one output per record, in order; positions committed
// never pass an unacknowledged or failed record, whatever the order and the
// threads the acknowledgements come from; a revocation finishes what was
// polled; each store failure policy does what pipeline_config.h says.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "connectors/memory/memory_feature_store.h"
#include "engine/pipeline/line_source.h"
#include "engine/pipeline/local_run.h"
#include "engine/pipeline/pipeline.h"
#include "pack_fixture.h"

using namespace fraud;
using namespace fraud::testing;

namespace {

const char* kPack = R"(features:
  - name: apps
    agg: count
    by: k
    window: 1h
    resolution: 1m
rules:
  - name: busy
    when: apps >= 3
    score: 50
  - name: big
    when: amount > 1000
    decision: decline
)";

std::string event(int i) {
  return R"({"event_id":"e)" + std::to_string(i) + R"(","event_type":"app","ts":)" +
         std::to_string(1772323200000 + i * 1000) + R"(,"k":"k)" + std::to_string(i % 3) + R"(","amount":)" +
         std::to_string(i % 7 == 0 ? 5000 : 10) + "}";
}

// Records from a list; optionally revokes once after `revoke_after` records.
class FakeSource final : public EventSource {
 public:
  explicit FakeSource(std::vector<std::string> values) : values_(std::move(values)) {}
  std::string_view name() const override { return "list"; }
  void start(SourceListener& l) override { listener_ = &l; }
  Poll next(int, SourceRecord& out, ByteArena&) override {
    if (next_ == revoke_after) {
      revoke_after = -1;
      listener_->before_revoke();
      std::lock_guard lock(mu);
      committed_at_revoke = committed;
    }
    if (next_ >= static_cast<int>(values_.size())) return end_when_done ? Poll::kEnd : Poll::kNone;
    out = SourceRecord{};
    out.value = values_[next_];
    out.offset = next_;
    out.partition = 0;
    ++next_;
    return Poll::kRecord;
  }
  void commit(std::span<const Position> positions) override {
    std::lock_guard lock(mu);
    for (const Position& p : positions) {
      EXPECT_GE(p.next_offset, committed) << "commits go forward";
      committed = p.next_offset;
      if (check) check(p.next_offset);
    }
  }

  int revoke_after = -1;
  bool end_when_done = true;
  std::mutex mu;
  std::int64_t committed = 0;
  std::int64_t committed_at_revoke = -1;
  std::function<void(std::int64_t)> check;  // called under mu with each committed position

 private:
  std::vector<std::string> values_;
  SourceListener* listener_ = nullptr;
  int next_ = 0;
};

// Keeps every output; acknowledges at once, or later from worker threads in
// random order, failing the record at `fail_offset`.
class RecordingSink final : public VerdictSink {
 public:
  bool deferred = false;
  std::int64_t fail_offset = -1;
  std::mutex mu;
  std::vector<std::int64_t> offsets;  // in the order sent
  std::vector<std::string> json;
  std::vector<Decision> decisions;
  std::vector<bool> degraded;
  std::vector<std::string> dead;  // reasons
  std::vector<std::atomic<bool>> acked = std::vector<std::atomic<bool>>(10'000);

  bool send_verdict(const VerdictOut& out, RecordSlot& slot) override {
    {
      std::lock_guard lock(mu);
      offsets.push_back(out.record.offset);
      json.emplace_back(out.json);
      decisions.push_back(out.verdict.decision);
      degraded.push_back(out.verdict.degraded);
    }
    return finish(slot);
  }
  bool send_dead_letter(const DeadLetterOut& out, RecordSlot& slot) override {
    {
      std::lock_guard lock(mu);
      offsets.push_back(out.record.offset);
      dead.emplace_back(out.reason);
    }
    return finish(slot);
  }
  void flush(int) override {
    std::vector<RecordSlot*> rest;
    {
      std::lock_guard lock(mu);
      rest.swap(waiting_);
    }
    complete_all(rest);
  }
  // Completes what waits, in random order, from three threads.
  void complete_waiting() { flush(0); }

 private:
  bool finish(RecordSlot& slot) {
    if (!deferred) {
      done(slot);
      return true;
    }
    std::lock_guard lock(mu);
    waiting_.push_back(&slot);
    if (waiting_.size() >= 37) {  // out of order, across batches, from other threads
      std::vector<RecordSlot*> now;
      now.swap(waiting_);
      std::thread([this, now]() mutable { complete_all(now); }).join();
    }
    return true;
  }
  void complete_all(std::vector<RecordSlot*> slots) {
    std::shuffle(slots.begin(), slots.end(), rng_);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t i = t; i < slots.size(); i += 3) done(*slots[i]);
      });
    }
    for (auto& t : threads) t.join();
  }
  void done(RecordSlot& slot) {
    const bool ok = slot.source_offset != fail_offset;
    if (ok) acked[static_cast<std::size_t>(slot.source_offset)].store(true);
    slot.done(ok);
  }
  std::vector<RecordSlot*> waiting_;
  std::mt19937 rng_{42};
};

// A store that fails its first `failures` applies, then is the memory store.
class FlakyStore final : public FeatureStore {
 public:
  int failures = 0;
  int applies = 0;
  StoreStatus apply(const RuleSet& rules, std::span<const FeatureOp> ops, std::span<Value> results) override {
    ++applies;
    if (failures > 0) {
      --failures;
      return StoreStatus::failure("down");
    }
    return memory_.apply(rules, ops, results);
  }
  std::string_view name() const override { return "flaky"; }

 private:
  MemoryFeatureStore memory_;
};

struct Harness {
  std::shared_ptr<const RuleSet> rules = compile_ok(kPack);
  EngineMetrics metrics{"list"};
  PipelineCounters counters;
  ManualClock clock;
  PipelineConfig config = [] {
    PipelineConfig c;
    c.batch_size = 16;
    c.batch_wait_ms = 0;
    c.max_in_flight = 4;
    return c;
  }();

  int run(EventSource& source, VerdictSink& sink, FeatureStore& store) {
    Pipeline p(config, rules, source, sink, store, metrics, counters, clock);
    return p.run(1000);
  }
};

std::vector<std::string> events(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(i % 50 == 17 ? "not json" : event(i));
  return v;
}

}  // namespace

TEST(AckTracker, CommitsInOrderAndNeverPastAnUnacknowledgedRecord) {
  constexpr int kBatches = 200, kPerBatch = 8, kN = kBatches * kPerBatch;
  std::vector<std::atomic<bool>> acked(kN);
  std::mutex mu;
  std::int64_t committed = 0;
  int retired = 0;
  AckTracker tracker({.commit =
                          [&](std::span<const Position> p) {
                            std::lock_guard lock(mu);
                            ASSERT_EQ(p.size(), 1u);
                            EXPECT_GT(p[0].next_offset, committed);
                            for (std::int64_t o = 0; o < p[0].next_offset; ++o) {
                              ASSERT_TRUE(acked[o].load()) << "committed " << p[0].next_offset << " past " << o;
                            }
                            committed = p[0].next_offset;
                          },
                      .retired = [&] { ++retired; },
                      .failed = [](std::string_view) { ADD_FAILURE() << "nothing fails here"; }});
  std::vector<RecordSlot*> slots;
  for (int b = 0; b < kBatches; ++b) {
    auto* batch = tracker.open({{0, (b + 1) * kPerBatch}}, kPerBatch);
    for (int i = 0; i < kPerBatch; ++i) {
      RecordSlot& s = tracker.slot(batch, i);
      s.source_offset = b * kPerBatch + i;
      slots.push_back(&s);
    }
    tracker.close(batch);
  }
  std::shuffle(slots.begin(), slots.end(), std::mt19937(3));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < slots.size(); i += 4) {
        acked[slots[i]->source_offset].store(true);
        slots[i]->done(true);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(committed, kN);
  EXPECT_EQ(retired, kBatches);
  EXPECT_EQ(tracker.open_batches(), 0u);
}

TEST(AckTracker, AFailedRecordFreezesCommitsEvenWhenLaterBatchesFinishFirst) {
  std::int64_t committed = 0;
  int failures = 0;
  AckTracker tracker({.commit = [&](std::span<const Position> p) { committed = p[0].next_offset; },
                      .retired = [] {},
                      .failed = [&](std::string_view) { ++failures; }});
  auto* a = tracker.open({{0, 10}}, 1);
  auto* b = tracker.open({{0, 20}}, 1);  // fails
  auto* c = tracker.open({{0, 30}}, 1);
  for (auto* x : {a, b, c}) tracker.close(x);
  tracker.slot(c, 0).done(true);  // later ones first
  EXPECT_EQ(committed, 0);
  tracker.slot(a, 0).done(true);
  EXPECT_EQ(committed, 10);
  tracker.slot(b, 0).done(false);
  EXPECT_EQ(committed, 10) << "neither the failed batch nor the good one after it";
  EXPECT_TRUE(tracker.frozen());
  EXPECT_EQ(failures, 1);
  tracker.abandon({{0, 40}});
  EXPECT_EQ(committed, 10);
  EXPECT_EQ(tracker.open_batches(), 0u);
}

TEST(Pipeline, EveryRecordGetsOneOutputInOrderAndEverythingIsCommitted) {
  Harness h;
  FakeSource source(events(500));
  RecordingSink sink;
  sink.deferred = true;  // acknowledged later, out of order, from other threads
  MemoryFeatureStore store;
  EXPECT_EQ(h.run(source, sink, store), 0);
  ASSERT_EQ(sink.offsets.size(), 500u);
  for (std::size_t i = 0; i < 500; ++i) EXPECT_EQ(sink.offsets[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(sink.dead.size(), 10u);
  EXPECT_EQ(source.committed, 500);
  EXPECT_EQ(h.counters.consumed.load(), 500u);
  EXPECT_EQ(h.counters.allowed + h.counters.reviewed + h.counters.declined, 490u);
}

TEST(Pipeline, VerdictsEqualTheSameEventsOneBatchAtATime) {
  // Batching, parallel stages and in-flight batches change nothing.
  Harness h;
  auto values = events(300);
  FakeSource source(values);
  RecordingSink sink;
  MemoryFeatureStore store;
  ASSERT_EQ(h.run(source, sink, store), 0);
  Harness one;
  one.config.batch_size = 1;
  one.config.max_in_flight = 1;
  FakeSource source1(values);
  RecordingSink sink1;
  MemoryFeatureStore store1;
  ASSERT_EQ(one.run(source1, sink1, store1), 0);
  EXPECT_EQ(sink.json, sink1.json);
  EXPECT_GT(std::count(sink.decisions.begin(), sink.decisions.end(), Decision::kReview), 10);
}

TEST(Pipeline, AFailedDeliveryStopsTheRunAndNothingPastItIsCommitted) {
  Harness h;
  FakeSource source(events(2000));
  RecordingSink sink;
  sink.deferred = true;
  sink.fail_offset = 300;
  source.check = [&](std::int64_t next) { EXPECT_LE(next, 300) << "committed past the failed record"; };
  MemoryFeatureStore store;
  EXPECT_EQ(h.run(source, sink, store), 1);
  EXPECT_TRUE(h.counters.failed.load());
  EXPECT_LE(source.committed, 300);
  EXPECT_GT(source.committed, 0);
}

TEST(Pipeline, ARevocationFinishesAndCommitsWhatWasPolled) {
  Harness h;
  h.config.batch_size = 64;
  FakeSource source(events(400));
  source.revoke_after = 150;  // mid-batch: 150 = 2 x 64 + 22
  RecordingSink sink;
  MemoryFeatureStore store;
  EXPECT_EQ(h.run(source, sink, store), 0);
  EXPECT_EQ(source.committed_at_revoke, 150) << "everything polled before the revoke, and nothing more";
  EXPECT_EQ(source.committed, 400);
}

TEST(Pipeline, PauseRetriesUntilTheStoreAnswersAndNoVerdictIsDegraded) {
  Harness h;
  h.config.store_retry_ms = 500;
  FakeSource source(events(40));
  RecordingSink sink;
  FlakyStore store;
  store.failures = 3;
  const std::int64_t t0 = h.clock.steady_ms();
  EXPECT_EQ(h.run(source, sink, store), 0);
  EXPECT_GE(h.clock.steady_ms() - t0, 1500) << "three waits of store_retry_ms";
  EXPECT_EQ(h.counters.store_failures.load(), 3u);
  EXPECT_EQ(std::count(sink.degraded.begin(), sink.degraded.end(), true), 0);
  EXPECT_EQ(sink.offsets.size(), 40u);
}

TEST(Pipeline, FailOpenAndFailClosedEvaluateWithoutFeatures) {
  for (auto policy : {StoreFailurePolicy::kFailOpen, StoreFailurePolicy::kFailClosed}) {
    Harness h;
    h.config.failure_policy = policy;
    h.config.batch_size = 1000;
    FakeSource source(events(40));
    RecordingSink sink;
    FlakyStore store;
    store.failures = 1;  // the only batch
    EXPECT_EQ(h.run(source, sink, store), 0);
    ASSERT_EQ(sink.decisions.size(), 39u);
    EXPECT_EQ(std::count(sink.degraded.begin(), sink.degraded.end(), true), 39);
    const auto declined = std::count(sink.decisions.begin(), sink.decisions.end(), Decision::kDecline);
    if (policy == StoreFailurePolicy::kFailClosed) {
      EXPECT_EQ(declined, 39);
    } else {
      EXPECT_EQ(declined, 6) << "only rule `big` (amount), which needs no feature";
    }
  }
}

TEST(Pipeline, StoppingDuringAPauseCommitsNothingOfTheUnevaluatedBatch) {
  Harness h;
  h.config.store_retry_ms = 10;
  FakeSource source(events(40));
  source.end_when_done = false;
  RecordingSink sink;
  FlakyStore store;
  store.failures = 1'000'000;
  Pipeline p(h.config, h.rules, source, sink, store, h.metrics, h.counters, h.clock);
  std::thread stopper([&] {
    while (store.applies < 5) std::this_thread::yield();
    p.stop();
  });
  const int rc = p.run(1000);
  stopper.join();
  EXPECT_EQ(rc, 0) << "a clean stop: the batch is read again after a restart";
  EXPECT_TRUE(p.tracker().frozen());
  EXPECT_EQ(source.committed, 0);
  EXPECT_TRUE(sink.offsets.empty());
}

TEST(Pipeline, LocalRunOverLinesCountsBlankLinesAndBoundsLongOnes) {
  auto rules = compile_ok(kPack);
  std::string text = event(1) + "\n\n   \n" + std::string(3000, 'x') + "\n" + event(2);  // no final newline
  std::istringstream in(text);
  LineSource source(in, "file", 1000);
  std::vector<std::int64_t> verdicts;
  std::vector<std::string> dead;
  CallbackSink sink([&](const VerdictOut& v) { verdicts.push_back(v.record.offset); },
                    [&](const DeadLetterOut& d) {
                      dead.emplace_back(d.reason);
                      EXPECT_EQ(d.record.value.size(), 1001u);
                    });
  MemoryFeatureStore store;
  PipelineConfig c = local_config();
  c.max_event_bytes = 1000;
  EXPECT_EQ(run_to_end(c, *rules, source, sink, store), 0);
  EXPECT_EQ(verdicts, (std::vector<std::int64_t>{0, 4}));
  EXPECT_EQ(dead, (std::vector<std::string>{"too_large"}));
  EXPECT_EQ(source.lines(), 5u);
  EXPECT_EQ(source.committed(), 5);
}

#include "engine/pipeline/pipeline.h"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <thread>

namespace fraud {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Pipeline::Pipeline(PipelineConfig config, std::shared_ptr<const RuleSet> rules, EventSource& source, VerdictSink& sink,
                   FeatureStore& store, EngineMetrics& metrics, PipelineCounters& counters, Clock& clock)
    : config_(std::move(config)),
      source_(source),
      sink_(sink),
      store_(store),
      metrics_(metrics),
      counters_(counters),
      clock_(clock),
      stages_(config_, source.name(), store, metrics, counters, clock, stopping_),
      tracker_(AckTracker::Callbacks{
          .commit = [this](std::span<const Position> p) { source_.commit(p); },
          .retired = [this] { retired(); },
          .failed = [this](std::string_view why) { fail(why); },
      }),
      // The batch being filled, up to max_in_flight queued and max_in_flight
      // in the stages: the pool keeps that many, so none is freed and made again.
      pool_(2 * config_.max_in_flight + 2,
            BatchProcessor::Options{.read_all_features = config_.read_all_features, .idempotent = config_.idempotent},
            metrics.batch_buffers) {
  swap_rules(std::move(rules));
  queue_.set_capacity(static_cast<std::ptrdiff_t>(config_.max_in_flight));
}

Pipeline::~Pipeline() {
  if (filling_) pool_.give_back(filling_);
}

void Pipeline::swap_rules(std::shared_ptr<const RuleSet> rules) {
  auto rm = metrics_.bind_rules(*rules);
  auto hits = std::make_shared<RuleHitCounts>(rules->rules.size());
  std::lock_guard lock(rules_mu_);
  if (rules_ != rules) hit_counts_ = std::move(hits);
  rules_ = std::move(rules);
  rule_metrics_ = std::move(rm);
}

std::shared_ptr<const RuleSet> Pipeline::rules() const {
  std::lock_guard lock(rules_mu_);
  return rules_;
}

std::uint64_t Pipeline::rule_hits(std::size_t rule) const {
  std::lock_guard lock(rules_mu_);
  return hit_counts_ && rule < hit_counts_->hits.size() ? hit_counts_->hits[rule].load() : 0;
}

void Pipeline::fail(std::string_view why) {
  counters_.failed.store(true);  // health red before anything stops
  if (!fatal_.exchange(true)) spdlog::error("stopping: {}", why);
  drain_cv_.notify_all();
}

// ---- poll thread ------------------------------------------------------------

void Pipeline::submit(PipelineBatch* b) {
  {
    std::lock_guard lock(rules_mu_);
    b->rules = rules_;
    b->rule_metrics = rule_metrics_;
    b->hit_counts = hit_counts_;
  }
  in_flight_.fetch_add(1);
  before_store_.fetch_add(1);
  counters_.batches_in_flight.add();
  counters_.consumed.add(b->records.size());
  // Wait for a free slot, showing the watchdog we are alive.
  while (!queue_.try_push(b)) {
    counters_.poll_heartbeat_ms.store(clock_.steady_ms());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Pipeline::before_revoke() {
  spdlog::info("revoking partitions: draining in-flight batches");
  if (filling_ && !filling_->records.empty()) {  // records polled before the revoke go first
    submit(filling_);
    filling_ = pool_.take();
  }
  drain();
  // A transactional sink commits what it holds before the partitions go.
  if (!fatal_.load() && !sink_.commit_output()) fail("the output sink could not commit before a revocation");
}

void Pipeline::drain() {
  std::unique_lock lock(drain_mu_);
  drain_cv_.wait(lock, [&] { return in_flight_.load() == 0 || fatal_.load(); });
}

void Pipeline::retired() {
  counters_.batches_in_flight.sub();
  {
    std::lock_guard lock(drain_mu_);
    in_flight_.fetch_sub(1);
  }
  drain_cv_.notify_all();
}

void Pipeline::poll_loop() {
  source_.start(*this);
  bool ended = false;
  while (!ended && !stopping_.load() && !fatal_.load()) {
    counters_.poll_heartbeat_ms.store(clock_.steady_ms());
    if (!sink_.tick()) fail("the output sink failed");
    filling_ = pool_.take();
    std::int64_t deadline = clock_.steady_ms() + config_.batch_wait_ms;
    // Natural batching: while nothing waits for the features stage, a batch
    // closes as soon as the source has nothing more at hand (low latency at
    // low load); while batches queue for it, it fills for up to
    // batch_wait_ms or batch_size (bigger batches when busy). While records
    // keep coming the loop reads no clock: only an empty poll checks the
    // deadline, and every 256th record beats the heart.
    auto idle = [&] { return before_store_.load(std::memory_order_relaxed) == 0; };
    bool got_one = false;
    std::uint32_t since_beat = 0;
    while (filling_->records.size() < config_.batch_size && !stopping_.load()) {
      // (before_revoke() may replace filling_ inside next().)
      int wait = filling_->records.empty() ? 100
                 : got_one || idle()       ? 0
                                           : static_cast<int>(std::max<std::int64_t>(0, deadline - clock_.steady_ms()));
      SourceRecord r;
      EventSource::Poll got = source_.next(wait, r, filling_->arena);
      if (got == EventSource::Poll::kFatal) {
        fail(source_.fatal_reason());
        break;
      }
      if (got == EventSource::Poll::kEnd) {
        ended = true;
        break;
      }
      if (got == EventSource::Poll::kNone) {
        counters_.poll_heartbeat_ms.store(clock_.steady_ms());
        got_one = false;
        // Idle: the sink's timers still run (an exactly-once transaction
        // holding the last records commits).
        if (!sink_.tick()) {
          fail("the output sink failed");
          break;
        }
        if (!filling_->records.empty() && (idle() || clock_.steady_ms() >= deadline)) break;
        continue;
      }
      got_one = true;
      if (++since_beat == 256) {
        counters_.poll_heartbeat_ms.store(clock_.steady_ms());
        since_beat = 0;
      }
      if (filling_->records.empty()) deadline = clock_.steady_ms() + config_.batch_wait_ms;
      filling_->records.push_back(r);
    }
    PipelineBatch* b = filling_;
    filling_ = nullptr;
    if (b->records.empty()) {
      pool_.give_back(b);
      continue;
    }
    submit(b);
  }
  queue_.push(nullptr);  // end of stream for the stages
}

// ---- produce stage ----------------------------------------------------------

std::vector<Position> Pipeline::positions_of(const PipelineBatch& b) const {
  std::vector<Position> next;
  for (const SourceRecord& r : b.records) advance_position(next, r.partition, r.offset + 1);
  return next;
}

void Pipeline::produce(PipelineBatch& b) {
  auto t0 = std::chrono::steady_clock::now();
  if (b.failed) {
    // Not evaluated (store failure while stopping): positions stay behind
    // it, so it is read again after a restart.
    const std::vector<Position> positions = positions_of(b);
    tracker_.abandon(positions);
    sink_.end_batch(positions, false);
    source_.release(b.records);
    pool_.give_back(&b);
    return;
  }
  const std::size_t n = b.records.size();
  std::vector<Position> positions = positions_of(b);
  AckTracker::Batch* acks = tracker_.open(positions, n);
  const bool begun = sink_.begin_batch();
  if (!begun) fail("the output sink cannot take a batch");
  std::size_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const SourceRecord& r = b.records[i];
    RecordSlot& slot = tracker_.slot(acks, i);
    slot.source_ts_ms = r.record_ts_ms;
    slot.source_offset = r.offset;
    slot.source_partition = r.partition;
    bool ok = begun;
    if (!begun) {
      // failed below; the records are read again after a restart
    } else if (b.valid[i]) {
      ok = sink_.send_verdict(VerdictOut{r, *b.ptrs[v], b.verdicts[v], b.processor.features_of(v), b.encoded[v],
                                         b.processor.model_scores_of(v)},
                              slot);
      ++v;
    } else {
      ok = sink_.send_dead_letter(DeadLetterOut{r, b.errors[i].reason, b.errors[i].detail}, slot);
    }
    if (!ok) {
      fail("a record could not be produced");
      slot.done(false);
    }
  }
  if (begun && !sink_.end_batch(positions, true)) fail("the output sink could not commit");
  // Tallies of the batch: serial here, so no lock in the parallel stages.
  for (int d = 0; d < 3; ++d) {
    if (!b.decisions[d]) continue;
    counters_.decision(static_cast<Decision>(d)).add(b.decisions[d]);
  }
  for (std::size_t r = 0; r < b.rule_hits.size(); ++r) {
    if (!b.rule_hits[r]) continue;
    b.rule_metrics->rule_hits[r]->Increment(static_cast<double>(b.rule_hits[r]));
    b.hit_counts->hits[r].fetch_add(b.rule_hits[r], std::memory_order_relaxed);
  }
  source_.release(b.records);
  pool_.give_back(&b);
  metrics_.stage_latency(EngineMetrics::kProduce).Observe(seconds_since(t0));
  counters_.batches.add();
  tracker_.close(acks);
}

// ---- lifecycle --------------------------------------------------------------

int Pipeline::run(int flush_ms) {
  std::thread poller([&] { poll_loop(); });
  std::optional<tbb::global_control> workers;
  if (config_.threads > 0) {
    workers.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(config_.threads));
  }
  tbb::parallel_pipeline(
      config_.max_in_flight,
      tbb::make_filter<void,
                       PipelineBatch*>(tbb::filter_mode::serial_in_order, [&](tbb::flow_control& fc) -> PipelineBatch* {
        PipelineBatch* b = nullptr;
        queue_.pop(b);
        if (!b) fc.stop();
        return b;
      }) & tbb::make_filter<PipelineBatch*, PipelineBatch*>(tbb::filter_mode::parallel, [&](PipelineBatch* b) {
        stages_.parse(*b);
        return b;
      }) & tbb::make_filter<PipelineBatch*, PipelineBatch*>(tbb::filter_mode::serial_in_order, [&](PipelineBatch* b) {
        stages_.features(*b);
        before_store_.fetch_sub(1);
        return b;
      }) & tbb::make_filter<PipelineBatch*, PipelineBatch*>(tbb::filter_mode::parallel, [&](PipelineBatch* b) {
        stages_.evaluate(*b);
        return b;
      }) & tbb::make_filter<PipelineBatch*, void>(tbb::filter_mode::serial_in_order, [&](PipelineBatch* b) {
        produce(*b);
      }));
  poller.join();
  // Every produced record must be acknowledged before the final commit.
  sink_.flush(flush_ms);
  if (!fatal_.load() && !sink_.commit_output()) fail("the output sink could not commit");
  drain();
  source_.finish();
  return fatal_.load() ? 1 : 0;
}

}  // namespace fraud

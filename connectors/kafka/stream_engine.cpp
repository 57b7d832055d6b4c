#include "connectors/kafka/stream_engine.h"

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_config.h"
#include "connectors/kafka/output_fit.h"
#include "engine/batch_processor.h"
#include "engine/event.h"

namespace fraud {

namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<StoreFailurePolicy> parse_failure_policy(std::string_view s) {
  if (s == "pause") return StoreFailurePolicy::kPause;
  if (s == "fail_open") return StoreFailurePolicy::kFailOpen;
  if (s == "fail_closed") return StoreFailurePolicy::kFailClosed;
  return std::nullopt;
}

struct Acks;

// One produced record: whose acknowledgements it counts in and when its
// source was written.
struct OutputSlot {
  Acks* acks = nullptr;
  std::int64_t source_ts_ms = -1;
  std::int64_t source_offset = -1;
  std::int32_t source_partition = -1;
  bool rerouted = false;  // rejected for good and sent to the DLQ instead (once)
};

// What a produced batch leaves behind until the broker has acknowledged all
// its records: one slot per record, the source offsets to store, a count.
// The batch itself goes back to the pool once it is produced (librdkafka
// holds copies of the records), so a broker slow to acknowledge holds ~16
// bytes per record here, not the batch's events and buffers.
struct Acks {
  std::vector<OutputSlot> slots;
  std::vector<std::pair<std::int32_t, std::int64_t>> next_offsets;  // partition -> last offset + 1
  std::atomic<std::int64_t> pending{0};
  std::atomic<bool> failed{false};
};

// Strings and event arenas bigger than this are released when a batch is
// recycled, so one huge event does not pin its buffer in the pool.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

// One batch of polled messages and everything made from them. Batches are
// recycled (see BatchPool): every buffer below keeps its capacity, so the
// steady state allocates little per event.
struct Batch {
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const RuleSetMetrics> rule_metrics;
  std::vector<rd_kafka_message_t*> messages;
  std::vector<Event> events;                 // one per message (valid or not)
  std::vector<std::uint8_t> valid;
  std::vector<EventError> errors;
  std::vector<const Event*> ptrs;            // valid events, in order
  std::vector<SourceRef> sources;
  BatchProcessor processor{BatchProcessor::Options{.read_all_features = false, .idempotent = true}};
  StoreStatus store_status;
  std::vector<Verdict> verdicts;
  std::vector<std::string> encoded;
  std::atomic<bool> failed{false};
  bool degraded = false;  // evaluated without features (fail_open / fail_closed)
  bool state_reset = false;  // evaluated on features the store had just lost (marked degraded)
  // Kept across uses: the parser (bound to the FieldTable of `parser_rules`),
  // the evaluation scratch and the per-rule hit counts of the evaluate stage.
  std::shared_ptr<const RuleSet> parser_rules;
  std::optional<EventParser> parser;
  EvalScratch scratch;
  std::vector<std::uint64_t> rule_hits;

  ~Batch() { destroy_messages(); }

  void destroy_messages() {
    for (auto* m : messages) rd_kafka_message_destroy(m);
    messages.clear();
  }

  // Back to an empty batch, keeping buffers (except unusually big ones).
  void reset() {
    destroy_messages();
    rules.reset();
    rule_metrics.reset();
    valid.clear();
    ptrs.clear();
    sources.clear();
    store_status = StoreStatus{};
    for (Event& e : events) {
      if (e.arena.capacity() > kKeepBufferBytes) std::string().swap(e.arena);
    }
    for (std::string& s : encoded) {
      if (s.capacity() > kKeepBufferBytes) std::string().swap(s);
    }
    for (EventError& e : errors) {
      if (e.detail.capacity() > kKeepBufferBytes) std::string().swap(e.detail);
    }
    failed.store(false);
    degraded = false;
    state_reset = false;
  }

  // The parser for this batch's pack (a new one only when the pack changed).
  EventParser& parser_for(std::size_t max_event_bytes) {
    if (parser_rules != rules || !parser) {
      parser.reset();
      parser_rules = rules;
      parser.emplace(rules->fields, max_event_bytes);
    }
    return *parser;
  }
};

// Batches that finished, ready to be filled again. Bounded: at most as many
// as can be in flight are kept; the rest are freed.
class BatchPool {
 public:
  BatchPool(std::size_t keep, prometheus::Gauge& allocated) : keep_(keep), allocated_(allocated) {}
  ~BatchPool() {
    for (Batch* b : spare_) delete b;
  }
  BatchPool(const BatchPool&) = delete;
  BatchPool& operator=(const BatchPool&) = delete;

  Batch* take() {
    {
      std::lock_guard lock(mu_);
      if (!spare_.empty()) {
        Batch* b = spare_.back();
        spare_.pop_back();
        return b;
      }
    }
    allocated_.Increment();
    return new Batch();
  }

  void give_back(Batch* b) {
    b->reset();
    {
      std::lock_guard lock(mu_);
      if (spare_.size() < keep_) {
        spare_.push_back(b);
        return;
      }
    }
    allocated_.Decrement();
    delete b;
  }

 private:
  std::size_t keep_;
  prometheus::Gauge& allocated_;
  std::mutex mu_;
  std::vector<Batch*> spare_;
};

struct StreamEngine::Impl {
  StreamConfig config;
  FeatureStore& store;
  EngineMetrics& metrics;
  StreamCounters& counters;
  std::atomic<bool>& stopping;

  mutable std::mutex rules_mu;
  std::shared_ptr<const RuleSet> rules;
  std::shared_ptr<const RuleSetMetrics> rule_metrics;
  std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> hits;
  const RuleSet* hits_for = nullptr;

  KafkaHandle consumer;
  KafkaHandle producer;
  rd_kafka_topic_partition_list_t* subscription = nullptr;

  tbb::concurrent_bounded_queue<Batch*> queue;
  // Batches alive: the one being filled, up to max_in_flight queued for the
  // pipeline and max_in_flight in it (a produced batch is recycled at once,
  // see Acks); the pool keeps that many, so none is freed and allocated again.
  BatchPool pool{2 * config.max_in_flight + 2, metrics.batch_buffers};
  std::atomic<std::int64_t> in_flight{0};  // batches polled and not yet retired (acknowledged and stored)
  std::atomic<std::int64_t> before_store{0};  // batches submitted that have not left the features stage
  std::mutex ack_mu;
  std::condition_variable ack_cv;
  std::deque<Acks*> unacked;               // produced batches' acknowledgements, in order
  std::atomic<bool> fatal{false};
  std::atomic<bool> producer_poll_stop{false};
  // The largest record produced (output_fit.h): from the producer's limit at
  // once, lowered when the topics' limits arrive (poll thread writes).
  std::atomic<std::size_t> output_budget{0};
  std::size_t producer_record_limit = 0;
  std::optional<TopicLimitQuery> topic_limits;  // poll thread only

  void set_output_budget(std::size_t topic_limit) {
    std::size_t b = output_record_budget(producer_record_limit, topic_limit);
    if (config.max_record_bytes > 0) b = std::min(b, config.max_record_bytes);
    output_budget.store(b);
    spdlog::info("output records up to {} bytes (producer message.max.bytes {}, topics' max.message.bytes {})", b,
                 producer_record_limit, topic_limit ? std::to_string(topic_limit) : "not known yet");
  }
  // Set when a batch could not be produced: no later offset may be stored,
  // or the batch would be skipped after a restart.
  std::atomic<bool> offsets_frozen{false};
  Batch* filling = nullptr;  // the batch the poll thread is filling (poll thread only)
  simdjson::dom::parser stats_parser;  // poll thread only

  Impl(StreamConfig c, std::shared_ptr<const RuleSet> r, FeatureStore& s, EngineMetrics& m, StreamCounters& k,
       std::atomic<bool>& stop)
      : config(std::move(c)), store(s), metrics(m), counters(k), stopping(stop) {
    set_rules(std::move(r));
    queue.set_capacity(static_cast<std::ptrdiff_t>(config.max_in_flight));
  }

  void set_rules(std::shared_ptr<const RuleSet> r) {
    auto rm = metrics.bind_rules(*r);
    std::lock_guard lock(rules_mu);
    rules = std::move(r);
    rule_metrics = std::move(rm);
    if (hits_for != rules.get()) {
      hits.clear();
      for (std::size_t i = 0; i < rules->rules.size(); ++i) hits.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
      hits_for = rules.get();
    }
  }

  // ---- Kafka clients ------------------------------------------------------

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    static_cast<Impl*>(opaque)->delivered(msg);
  }

  static int on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
    static_cast<Impl*>(opaque)->statistics(std::string_view(json, len));
    return 0;  // librdkafka frees json
  }

  // Consumer lag per partition, from librdkafka's statistics JSON.
  void statistics(std::string_view json) {
    simdjson::dom::element root;
    if (stats_parser.parse(json.data(), json.size(), true).get(root)) return;
    simdjson::dom::object parts;
    if (root["topics"][config.input_topic]["partitions"].get_object().get(parts)) return;
    for (auto field : parts) {
      std::int64_t partition = 0, lag = 0;
      if (field.value["partition"].get_int64().get(partition) || partition < 0) continue;
      if (field.value["consumer_lag"].get_int64().get(lag) || lag < 0) continue;
      metrics.consumer_lag.Add({{"topic", config.input_topic}, {"partition", std::to_string(partition)}})
          .Set(static_cast<double>(lag));
    }
  }

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
    static_cast<Impl*>(opaque)->rebalance(rk, err, parts);
  }

  void create_clients() {
    std::map<std::string, std::string> common = config.kafka_properties;
    common["bootstrap.servers"] = config.bootstrap;
    common.emplace("log_level", "4");

    auto pprops = common;
    pprops.emplace("enable.idempotence", "true");
    // Verdicts wait at most 0.5 ms for company: at 20,000 events/s this cut
    // p99 by ~2 ms against 2 ms, with no loss flat out (bench_e2e, 2026-11-29);
    // under load sets still fill while earlier requests are in flight.
    pprops.emplace("linger.ms", "0.5");
    pprops.emplace("batch.num.messages", "10000");
    pprops.emplace("queue.buffering.max.messages", "1000000");
    pprops.emplace("queue.buffering.max.kbytes", "1048576");
    rd_kafka_conf_t* pconf = make_kafka_conf(pprops);
    rd_kafka_conf_set_opaque(pconf, this);
    rd_kafka_conf_set_dr_msg_cb(pconf, &Impl::on_delivery);
    std::size_t producer_limit = conf_message_max_bytes(pconf);
    producer = make_kafka_client(RD_KAFKA_PRODUCER, pconf);
    producer_record_limit = producer_limit;
    set_output_budget(0);
    topic_limits.emplace(producer.get(), std::vector<std::string>{config.output_topic, config.dlq_topic}, 10'000);

    auto cprops = common;
    cprops["group.id"] = config.group;
    cprops.emplace("partition.assignment.strategy", "cooperative-sticky");
    cprops["enable.auto.commit"] = "true";
    cprops["enable.auto.offset.store"] = "false";
    cprops.emplace("auto.offset.reset", "earliest");
    cprops.emplace("auto.commit.interval.ms", "1000");
    // Prefetch at most 16 MB (librdkafka's default is 64): while the engine
    // is behind, this queue fills up to that size, and the memory stays with
    // the process afterwards. 16 MB is ~70,000 events of the lending stream,
    // most of a second flat out.
    cprops.emplace("queued.max.messages.kbytes", "16384");
    cprops.emplace("fetch.wait.max.ms", std::to_string(config.fetch_wait_ms));
    // A record larger than the per-partition fetch size would stall the
    // partition on brokers that do not return oversized first batches; such
    // records must reach the DLQ instead.
    cprops.emplace("max.partition.fetch.bytes", "16777216");
    // Under the `pause` policy the poll loop waits (heartbeating the
    // watchdog) while Redis is down; keep the group membership for an hour
    // of outage instead of librdkafka's 5 minutes. A truly stuck loop is
    // caught by /healthz (liveness) long before.
    cprops.emplace("max.poll.interval.ms", "3600000");
    cprops.emplace("statistics.interval.ms", std::to_string(config.statistics_interval_ms));
    rd_kafka_conf_t* cconf = make_kafka_conf(cprops);
    rd_kafka_conf_set_opaque(cconf, this);
    rd_kafka_conf_set_rebalance_cb(cconf, &Impl::on_rebalance);
    rd_kafka_conf_set_stats_cb(cconf, &Impl::on_statistics);
    consumer = make_kafka_client(RD_KAFKA_CONSUMER, cconf);
    rd_kafka_poll_set_consumer(consumer.get());
    subscription = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subscription, config.input_topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer.get(), subscription);
    if (err) throw std::runtime_error(std::string("subscribe: ") + rd_kafka_err2str(err));
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    metrics.rebalances.Increment();
    bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      spdlog::info("assigned {} partition(s)", parts->cnt);
      counters.assigned_partitions.fetch_add(parts->cnt);
      if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts);
        if (e) rd_kafka_error_destroy(e);
      } else {
        rd_kafka_assign(rk, parts);
      }
      return;
    }
    // Revoked (or lost): finish and commit what we hold before letting go.
    spdlog::info("revoking {} partition(s): draining in-flight batches", parts->cnt);
    if (filling && !filling->messages.empty()) {  // messages polled before the revoke go first
      submit(filling);
      filling = new_batch();
    }
    drain();
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || !rd_kafka_assignment_lost(rk)) {
      rd_kafka_commit(rk, nullptr, 0);
    }
    counters.assigned_partitions.fetch_sub(cooperative ? parts->cnt : counters.assigned_partitions.load());
    if (cooperative) {
      rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
      if (e) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  // Waits until every polled batch is produced, acknowledged and stored.
  void drain() {
    std::unique_lock lock(ack_mu);
    ack_cv.wait(lock, [&] { return in_flight.load() == 0 || fatal.load(); });
  }

  // ---- poll thread --------------------------------------------------------

  Batch* new_batch() { return pool.take(); }

  void submit(Batch* b) {
    {
      // The pack of a batch is the one current when the batch closes, so a
      // reload applies from the next batch on.
      std::lock_guard lock(rules_mu);
      b->rules = rules;
      b->rule_metrics = rule_metrics;
    }
    in_flight.fetch_add(1);
    before_store.fetch_add(1);
    metrics.batches_in_flight.Increment();
    counters.consumed.fetch_add(b->messages.size(), std::memory_order_relaxed);
    // Wait for a free pipeline slot, showing the watchdog we are alive.
    while (!queue.try_push(b)) {
      counters.poll_heartbeat_ms.store(steady_ms());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  void poll_loop() {
    while (!stopping.load() && !fatal.load()) {
      counters.poll_heartbeat_ms.store(steady_ms());
      if (std::size_t limit = topic_limits ? topic_limits->poll() : 0) set_output_budget(limit);
      filling = new_batch();
      Batch*& b = filling;
      auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.batch_wait_ms);
      // Natural batching: while nothing waits for the features stage, a
      // batch closes as soon as the consumer has nothing more at hand (low
      // latency at low load); while batches queue for it, it fills for up to
      // batch_wait_ms or batch_size (bigger batches when busy).
      auto idle = [&] { return before_store.load(std::memory_order_relaxed) == 0; };
      // While messages keep coming the loop reads no clock: right after a
      // message it polls without waiting, and only an empty poll checks the
      // deadline (then waits for what is left of it) and beats the heart,
      // as does every 256th message.
      bool got_one = false;
      std::uint32_t since_beat = 0;
      while (b->messages.size() < config.batch_size && !stopping.load()) {
        int wait = b->messages.empty()   ? 100
                   : got_one || idle() ? 0
                                         : static_cast<int>(std::max<std::int64_t>(
                                               0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now())
                                                      .count()));
        rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer.get(), wait);
        if (!m) {
          counters.poll_heartbeat_ms.store(steady_ms());
          got_one = false;
          if (!b->messages.empty() && (idle() || std::chrono::steady_clock::now() >= deadline)) break;
          continue;
        }
        got_one = true;
        if (++since_beat == 256) {
          counters.poll_heartbeat_ms.store(steady_ms());
          since_beat = 0;
        }
        if (m->err) {
          if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            spdlog::warn("consumer: {}", rd_kafka_message_errstr(m));
            char reason[512];
            if (rd_kafka_fatal_error(consumer.get(), reason, sizeof reason)) {
              spdlog::error("fatal consumer error: {}", reason);
              fail("fatal consumer error");
            }
          }
          rd_kafka_message_destroy(m);
          continue;
        }
        if (b->messages.empty()) deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(config.batch_wait_ms);
        b->messages.push_back(m);
      }
      if (b->messages.empty()) {
        pool.give_back(b);
        filling = nullptr;
        continue;
      }
      submit(b);
      filling = nullptr;
    }
    queue.push(nullptr);  // end of stream for the pipeline
  }

  // ---- pipeline stages ----------------------------------------------------

  void parse(Batch& b) {
    auto t0 = std::chrono::steady_clock::now();
    EventParser& parser = b.parser_for(config.max_event_bytes);
    std::size_t n = b.messages.size();
    b.events.resize(n);
    b.valid.assign(n, 0);
    b.errors.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const rd_kafka_message_t* m = b.messages[i];
      std::string_view bytes(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
      if (parser.parse(bytes, b.events[i], b.errors[i])) {
        b.valid[i] = 1;
        b.ptrs.push_back(&b.events[i]);
        rd_kafka_timestamp_type_t tstype;
        std::int64_t record_ts = rd_kafka_message_timestamp(m, &tstype);
        b.sources.push_back({config.input_topic, m->partition, m->offset,
                             tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : record_ts});
        b.rule_metrics->events_of_type(b.events[i].event_type).Increment();
      }
    }
    // Feature ops and their store digests depend on this batch alone: done
    // here, in parallel, rather than in the serial features stage.
    b.processor.plan(*b.rules, b.ptrs, b.sources);
    if (std::size_t clamped = b.processor.clamped_events()) {
      metrics.future_events.Increment(static_cast<double>(clamped));
    }
    store.digest(*b.rules, b.processor.ops_to_digest());
    // While the features stage is behind, this batch's keys are known before
    // the batches ahead of it are applied: the store may fetch ahead.
    store.prefetch(*b.rules, b.processor.ops());
    metrics.stage_latency(EngineMetrics::kParse).Observe(seconds_since(t0));
  }

  FeatureStoreCounters store_seen;  // the store's counters at the last metrics update (features stage only)

  void features(Batch& b) {
    auto t0 = std::chrono::steady_clock::now();
    // Policy `pause`: never evaluate without features; retry until the store
    // answers or the engine stops (then the batch is not acknowledged, so its
    // offsets are not committed and it is consumed again after restart).
    while (true) {
      auto s0 = std::chrono::steady_clock::now();
      metrics.feature_store_requests.Increment();
      b.store_status = store.apply(*b.rules, b.processor.ops(), b.processor.results());
      metrics.feature_store_latency.Observe(seconds_since(s0));
      if (b.store_status.ok && !b.store_status.late_ops.empty()) {
        b.processor.mark_late(b.store_status.late_ops);
        for (std::uint32_t i : b.store_status.late_ops) {
          b.rule_metrics->late_events[b.processor.ops()[i].feature]->Increment();
        }
      }
      counters.store_ok.store(b.store_status.ok);
      FeatureStoreCounters now = store.counters();
      metrics.feature_keys_engine_computed.Increment(static_cast<double>(now.keys_engine_computed - store_seen.keys_engine_computed));
      metrics.feature_keys_script_computed.Increment(static_cast<double>(now.keys_script_computed - store_seen.keys_script_computed));
      metrics.feature_keys_created.Increment(static_cast<double>(now.keys_created - store_seen.keys_created));
      metrics.feature_create_conflicts.Increment(static_cast<double>(now.create_conflicts - store_seen.create_conflicts));
      metrics.feature_keys_checked_absent.Increment(
          static_cast<double>(now.keys_checked_absent - store_seen.keys_checked_absent));
      metrics.feature_absence_conflicts.Increment(static_cast<double>(now.absence_conflicts - store_seen.absence_conflicts));
      metrics.feature_cache_entries.Set(static_cast<double>(now.cache_entries));
      metrics.feature_cache_bytes.Set(static_cast<double>(now.cache_bytes));
      metrics.feature_cache_evictions.Increment(static_cast<double>(now.cache_evictions - store_seen.cache_evictions));
      metrics.feature_keys_prefetched.Increment(static_cast<double>(now.keys_prefetched - store_seen.keys_prefetched));
      metrics.feature_store_round_trips.Increment(static_cast<double>(now.round_trips - store_seen.round_trips));
      metrics.distinct_overflows.Increment(
          static_cast<double>(now.distinct_overflows - store_seen.distinct_overflows));
      metrics.feature_store_script_calls.Increment(static_cast<double>(now.script_calls - store_seen.script_calls));
      counters.store_round_trips.store(now.round_trips);
      counters.store_script_calls.store(now.script_calls);
      store_seen = now;
      if (b.store_status.ok && b.store_status.state_reset) {
        // The state is gone and cannot come back by waiting: verdicts go out
        // flagged (fail_closed: declined), whatever the policy.
        metrics.feature_state_resets.Increment();
        spdlog::error("feature store lost its data (Redis restarted empty or was flushed): velocity features "
                      "restart from zero; verdicts of this batch are marked degraded");
        b.state_reset = true;
      }
      if (b.store_status.ok) break;
      metrics.feature_store_errors.Increment();
      counters.store_failures.fetch_add(1);
      if (config.failure_policy != StoreFailurePolicy::kPause) {
        spdlog::warn("feature store: {}; evaluating without features ({})", b.store_status.error,
                     config.failure_policy == StoreFailurePolicy::kFailOpen ? "fail_open" : "fail_closed");
        b.degraded = true;
        break;
      }
      spdlog::warn("feature store: {}; retrying in {} ms", b.store_status.error, config.store_retry_ms);
      if (stopping.load()) {
        b.failed.store(true);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(config.store_retry_ms));
    }
    before_store.fetch_sub(1);
    metrics.stage_latency(EngineMetrics::kFeatures).Observe(seconds_since(t0));
  }

  void evaluate(Batch& b) {
    if (b.failed.load()) return;
    auto t0 = std::chrono::steady_clock::now();
    const RuleSet& rs = *b.rules;
    EvalScratch& scratch = b.scratch;
    std::size_t n = b.ptrs.size();
    b.verdicts.resize(n);
    b.encoded.resize(n);
    std::uint64_t decisions[3] = {0, 0, 0};
    std::vector<std::uint64_t>& rule_hits = b.rule_hits;
    rule_hits.assign(rs.rules.size(), 0);
    for (std::size_t i = 0; i < n; ++i) {
      Verdict& v = b.verdicts[i];
      b.processor.evaluate(rs, i, v, scratch, b.degraded);
      v.degraded |= b.state_reset;
      if (v.degraded && config.failure_policy == StoreFailurePolicy::kFailClosed) v.decision = Decision::kDecline;
      ++decisions[static_cast<int>(v.decision)];
      for (std::size_t h = 0; h < v.hit_count; ++h) ++rule_hits[v.hits[h].rule];
      for (std::size_t h = 0; h < v.shadow_count; ++h) ++rule_hits[v.shadow_hits[h].rule];
      b.encoded[i].clear();
      encode_verdict(rs, *b.ptrs[i], v, b.processor.features_of(i), b.sources[i], b.encoded[i]);
    }
    if (b.degraded || b.state_reset) metrics.degraded_verdicts.Increment(static_cast<double>(n));
    for (int d = 0; d < 3; ++d) {
      if (decisions[d]) {
        metrics.verdicts(static_cast<Decision>(d)).Increment(static_cast<double>(decisions[d]));
        counters.decisions[d].fetch_add(decisions[d], std::memory_order_relaxed);
      }
    }
    std::lock_guard lock(rules_mu);
    for (std::size_t r = 0; r < rule_hits.size(); ++r) {
      if (!rule_hits[r]) continue;
      b.rule_metrics->rule_hits[r]->Increment(static_cast<double>(rule_hits[r]));
      if (hits_for == b.rules.get()) hits[r]->fetch_add(rule_hits[r], std::memory_order_relaxed);
    }
    metrics.stage_latency(EngineMetrics::kEvaluate).Observe(seconds_since(t0));
  }

  // Hands one record to librdkafka (which takes `headers` on success and
  // copies the rest). Returns the error of a refused record; `headers` are
  // destroyed then. `may_block`: wait out a full queue (not from a delivery
  // callback).
  rd_kafka_resp_err_t produce_one(const std::string& topic, const void* key, std::size_t key_len, const void* value,
                                  std::size_t len, rd_kafka_headers_t* headers, OutputSlot* slot,
                                  bool may_block = true) {
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key, key_len),
          RD_KAFKA_V_VALUE(const_cast<void*>(value), len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
      if (!err) return err;
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && may_block) {
        rd_kafka_poll(producer.get(), 10);
        continue;
      }
      spdlog::error("produce to {}: {}", topic, rd_kafka_err2str(err));
      if (headers) rd_kafka_headers_destroy(headers);
      return err;
    }
  }

  // The serialized size of a message's own headers (0 if none).
  static std::size_t original_headers_len(const rd_kafka_message_t* m) {
    rd_kafka_headers_t* h = nullptr;
    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h) return 0;
    std::size_t total = 0;
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      total += header_bytes(std::strlen(name), size);
    }
    return total;
  }

  // A dead letter for `m` (its bytes, key and headers, cut to fit the output
  // budget as output_fit.h says, plus the dlq.* headers). False if
  // librdkafka refused it.
  bool produce_dead_letter(const rd_kafka_message_t* m, std::string_view reason, std::string detail,
                           OutputSlot* slot) {
    if (detail.size() > 1024) detail.resize(1024);
    std::vector<std::pair<std::string_view, std::string>> dlq = {
        {"dlq.reason", std::string(reason)},
        {"dlq.error", std::move(detail)},
        {"dlq.source.topic", config.input_topic},
        {"dlq.source.partition", std::to_string(m->partition)},
        {"dlq.source.offset", std::to_string(m->offset)}};
    std::size_t dlq_len = 0;
    for (const auto& [n, v] : dlq) dlq_len += header_bytes(n.size(), v.size());
    dlq_len += 4 * header_bytes(24, 20);  // room for the headers that report a cut
    std::size_t key_len = m->key ? m->key_len : 0;
    std::size_t len = m->payload ? m->len : 0;
    DeadLetterCut cut = cut_dead_letter(output_budget.load(), key_len, len, original_headers_len(m), dlq_len);
    rd_kafka_headers_t* original = nullptr;
    rd_kafka_headers_t* h = nullptr;
    if (cut.keep_original_headers && rd_kafka_message_headers(m, &original) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        original) {
      h = rd_kafka_headers_copy(original);
    } else {
      h = rd_kafka_headers_new(8);
    }
    auto add = [&](std::string_view name, std::string_view value) {
      rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    };
    for (const auto& [n, v] : dlq) add(n, v);
    if (!cut.keep_original_headers) add("dlq.headers.dropped", "true");
    if (cut.key_cut) {
      add("dlq.key.truncated", "true");
      add("dlq.original.key.size", std::to_string(key_len));
    }
    if (cut.value_cut) {
      add("dlq.truncated", "true");
      add("dlq.original.size", std::to_string(len));
    }
    metrics.dlq(reason).Increment();
    counters.dead_letters.fetch_add(1, std::memory_order_relaxed);
    return !produce_one(config.dlq_topic, m->key, cut.key_len, m->payload, cut.value_len, h, slot);
  }

  void produce(Batch& b) {
    auto t0 = std::chrono::steady_clock::now();
    if (b.failed.load()) {
      retire_unproduced(&b);
      return;
    }
    std::size_t n = b.messages.size();
    auto* acks = new Acks();
    acks->slots.resize(n);
    for (const auto* m : b.messages) {
      auto at = std::find_if(acks->next_offsets.begin(), acks->next_offsets.end(),
                             [&](const auto& po) { return po.first == m->partition; });
      if (at == acks->next_offsets.end()) {
        acks->next_offsets.emplace_back(m->partition, m->offset + 1);
      } else {
        at->second = std::max(at->second, m->offset + 1);
      }
    }
    acks->pending.store(static_cast<std::int64_t>(n) + 1);  // +1 until all are handed over
    {
      std::lock_guard lock(ack_mu);
      unacked.push_back(acks);
    }
    std::size_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const rd_kafka_message_t* m = b.messages[i];
      rd_kafka_timestamp_type_t tstype;
      OutputSlot* slot = &acks->slots[i];
      *slot = {acks, rd_kafka_message_timestamp(m, &tstype), m->offset, m->partition};
      bool ok;
      if (b.valid[i]) {
        const std::string& json = b.encoded[v++];
        std::size_t key_len = m->key ? m->key_len : 0;
        if (!record_fits(output_budget.load(), key_len, json.size(), 0)) {
          ok = produce_dead_letter(m, "verdict_too_large",
                                   "a verdict of " + std::to_string(json.size()) + " bytes with a key of " +
                                       std::to_string(key_len) + " bytes exceeds the output limit of " +
                                       std::to_string(output_budget.load()) + " bytes",
                                   slot);
        } else {
          rd_kafka_resp_err_t err =
              produce_one(config.output_topic, m->key, key_len, json.data(), json.size(), nullptr, slot);
          if (err && is_permanent_record_error(err)) {
            ok = produce_dead_letter(m, "output_rejected", std::string("verdict refused: ") + rd_kafka_err2str(err),
                                     slot);
          } else {
            ok = !err;
            counters.verdicts.fetch_add(1, std::memory_order_relaxed);
          }
        }
      } else {
        ok = produce_dead_letter(m, b.errors[i].reason, b.errors[i].detail, slot);
      }
      if (!ok) {
        acks->failed.store(true);
        fail("a record could not be produced");
        finish_one(acks);
      }
    }
    // librdkafka holds copies of the records: the batch is free for the next.
    pool.give_back(&b);
    metrics.stage_latency(EngineMetrics::kProduce).Observe(seconds_since(t0));
    metrics.batches.Increment();
    counters.batches.fetch_add(1, std::memory_order_relaxed);
    finish_one(acks);  // the +1
  }

  // ---- acknowledgements ---------------------------------------------------

  void delivered(const rd_kafka_message_t* msg) {
    auto* slot = static_cast<OutputSlot*>(msg->_private);
    if (!slot) return;
    if (msg->err && is_permanent_record_error(msg->err) && !slot->rerouted && reroute(msg, slot)) {
      return;  // the slot now waits for the dead letter's delivery
    }
    if (msg->err) {
      spdlog::error("delivery failed: {}", rd_kafka_err2str(msg->err));
      metrics.produce_errors.Increment();
      slot->acks->failed.store(true);
      fail("a record was not delivered");
    } else {
      counters.acked.fetch_add(1, std::memory_order_relaxed);
      if (slot->source_ts_ms > 0) {
        double s = static_cast<double>(wall_ms() - slot->source_ts_ms) / 1000.0;
        if (s >= 0) {
          counters.end_to_end.record(s);
          metrics.end_to_end_latency.Observe(s);
        }
      }
    }
    finish_one(slot->acks);
  }

  // A record the broker refused for good (too large for the topic, invalid):
  // its source goes to the DLQ as a header-only record with the key cut, so
  // the same refusal cannot repeat. Runs in the delivery callback.
  bool reroute(const rd_kafka_message_t* msg, OutputSlot* slot) {
    metrics.produce_errors.Increment();
    slot->rerouted = true;
    std::string_view topic = rd_kafka_topic_name(msg->rkt);
    spdlog::warn("{} refused a record of source offset {}:{} for good ({}); dead-lettering it", topic,
                 slot->source_partition, slot->source_offset, rd_kafka_err2str(msg->err));
    rd_kafka_headers_t* h = rd_kafka_headers_new(8);
    auto add = [&](const char* name, const std::string& value) {
      rd_kafka_header_add(h, name, -1, value.data(), static_cast<ssize_t>(value.size()));
    };
    add("dlq.reason", "output_rejected");
    add("dlq.error", std::string(topic) + " refused the record: " + rd_kafka_err2str(msg->err));
    add("dlq.source.topic", config.input_topic);
    add("dlq.source.partition", std::to_string(slot->source_partition));
    add("dlq.source.offset", std::to_string(slot->source_offset));
    add("dlq.original.size", std::to_string(msg->len));
    std::size_t key_len = std::min(msg->key ? msg->key_len : 0, kMaxCutKeyBytes);
    if (key_len < (msg->key ? msg->key_len : 0)) add("dlq.key.truncated", "true");
    add("dlq.truncated", "true");
    bool to_dlq = topic == config.output_topic;
    if (to_dlq) {
      metrics.dlq("output_rejected").Increment();
      counters.dead_letters.fetch_add(1, std::memory_order_relaxed);
      counters.verdicts.fetch_sub(1, std::memory_order_relaxed);
    }
    return !produce_one(config.dlq_topic, msg->key, key_len, nullptr, 0, h, slot, false);
  }

  // Something went wrong that stops the engine: /healthz turns red first.
  void fail(std::string_view why) {
    counters.failed.store(true);
    if (!fatal.exchange(true)) spdlog::error("stopping: {}", why);
  }

  void finish_one(Acks* a) {
    if (a->pending.fetch_sub(1) != 1) return;
    // This batch is complete; retire every complete batch at the front.
    std::vector<Acks*> done;
    {
      std::lock_guard lock(ack_mu);
      while (!unacked.empty() && unacked.front()->pending.load() == 0) {
        done.push_back(unacked.front());
        unacked.pop_front();
      }
    }
    for (Acks* d : done) retire(d);
  }

  void retire(Acks* a) {
    if (a->failed.load()) offsets_frozen.store(true);
    if (!offsets_frozen.load()) store_offsets(a->next_offsets);
    delete a;
    finished();
  }

  void retire_unproduced(Batch* b) {
    // Not produced (store failure while stopping): offsets stay behind it,
    // so the batch is consumed again after restart.
    offsets_frozen.store(true);
    pool.give_back(b);
    finished();
  }

  // A polled batch is done with (acknowledged, or never produced).
  void finished() {
    metrics.batches_in_flight.Decrement();
    {
      std::lock_guard lock(ack_mu);
      in_flight.fetch_sub(1);
    }
    ack_cv.notify_all();
  }

  void store_offsets(const std::vector<std::pair<std::int32_t, std::int64_t>>& next) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(next.size()));
    for (const auto& [p, o] : next) rd_kafka_topic_partition_list_add(list, config.input_topic.c_str(), p)->offset = o;
    rd_kafka_offsets_store(consumer.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
  }

  // ---- lifecycle ------------------------------------------------------------

  int run() {
    create_clients();
    std::thread producer_poller([&] {
      while (!producer_poll_stop.load()) rd_kafka_poll(producer.get(), 50);
      rd_kafka_poll(producer.get(), 0);
    });
    std::thread poller([&] { poll_loop(); });
    std::optional<tbb::global_control> workers;
    if (config.threads > 0) {
      workers.emplace(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(config.threads));
    }
    tbb::parallel_pipeline(
        config.max_in_flight,
        tbb::make_filter<void, Batch*>(tbb::filter_mode::serial_in_order,
                                       [&](tbb::flow_control& fc) -> Batch* {
                                         Batch* b = nullptr;
                                         queue.pop(b);
                                         if (!b) fc.stop();
                                         return b;
                                       }) &
            tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::parallel,
                                             [&](Batch* b) {
                                               parse(*b);
                                               return b;
                                             }) &
            tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::serial_in_order,
                                             [&](Batch* b) {
                                               features(*b);
                                               return b;
                                             }) &
            tbb::make_filter<Batch*, Batch*>(tbb::filter_mode::parallel,
                                             [&](Batch* b) {
                                               evaluate(*b);
                                               return b;
                                             }) &
            tbb::make_filter<Batch*, void>(tbb::filter_mode::serial_in_order, [&](Batch* b) { produce(*b); }));
    poller.join();
    // Every produced record must be acknowledged before the final commit.
    rd_kafka_flush(producer.get(), 60'000);
    drain();
    producer_poll_stop.store(true);
    producer_poller.join();
    rd_kafka_commit(consumer.get(), nullptr, 0);
    rd_kafka_consumer_close(consumer.get());
    if (subscription) rd_kafka_topic_partition_list_destroy(subscription);
    subscription = nullptr;
    return fatal.load() ? 1 : 0;
  }
};

StreamEngine::StreamEngine(StreamConfig config, std::shared_ptr<const RuleSet> rules, FeatureStore& store,
                           EngineMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(rules), store, metrics, counters_, stopping_)) {}

StreamEngine::~StreamEngine() = default;

int StreamEngine::run() {
  started_.store(true);
  int rc = impl_->run();
  finished_.store(true);
  return rc;
}

void StreamEngine::swap_rules(std::shared_ptr<const RuleSet> rules) { impl_->set_rules(std::move(rules)); }

std::shared_ptr<const RuleSet> StreamEngine::rules() const {
  std::lock_guard lock(impl_->rules_mu);
  return impl_->rules;
}

std::uint64_t StreamEngine::rule_hits(std::size_t rule) const {
  std::lock_guard lock(impl_->rules_mu);
  return rule < impl_->hits.size() ? impl_->hits[rule]->load() : 0;
}

}  // namespace fraud

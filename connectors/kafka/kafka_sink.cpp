#include "connectors/kafka/kafka_sink.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "connectors/kafka/output_fit.h"

namespace fraud {

namespace {

constexpr std::uint32_t kRerouted = 1;  // RecordSlot::sink_flags: dead-lettered after a refusal (once)

// The serialized size of a message's own headers (0 if none).
std::size_t original_headers_len(const rd_kafka_message_t* m) {
  rd_kafka_headers_t* h = nullptr;
  if (!m || rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h) return 0;
  std::size_t total = 0;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    total += header_bytes(std::strlen(name), size);
  }
  return total;
}

}  // namespace

KafkaSink::KafkaSink(KafkaSinkConfig config, EngineMetrics& metrics, PipelineCounters& counters, Clock& clock)
    : config_(std::move(config)), metrics_(metrics), counters_(counters), clock_(clock) {
  auto props = config_.properties;
  props.emplace("log_level", "4");
  props.emplace("enable.idempotence", "true");
  // Verdicts wait at most 0.5 ms for company (bench/RESULTS.md: lower p99
  // than 2 ms at 20,000 events/s, no loss flat out); under load sets still
  // fill while earlier requests are in flight.
  props.emplace("linger.ms", "0.5");
  props.emplace("batch.num.messages", "10000");
  props.emplace("queue.buffering.max.messages", "1000000");
  props.emplace("queue.buffering.max.kbytes", "1048576");
  if (config_.exactly_once) {
    props["transactional.id"] = config_.transactional_id;
    // librdkafka caps message.timeout.ms at this: a broker frozen for less
    // does not fail the transaction. A transaction of an instance killed
    // mid-way holds read_committed readers back until the broker aborts it
    // after this long, or the instance restarts with the same
    // transactional.id and fences it at once.
    props.emplace("transaction.timeout.ms", "60000");
  }
  rd_kafka_conf_t* conf = make_kafka_conf(props);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaSink::on_delivery);
  producer_record_limit_ = conf_message_max_bytes(conf);
  producer_ = make_kafka_client(RD_KAFKA_PRODUCER, conf);
  set_output_budget(0);
  topic_limits_.emplace(producer_.get(), std::vector<std::string>{config_.output_topic, config_.dlq_topic}, 10'000);
  poller_ = std::thread([this] {
    while (!poll_stop_.load()) rd_kafka_poll(producer_.get(), 50);
    rd_kafka_poll(producer_.get(), 0);
  });
  if (config_.exactly_once) {
    try {
      txn_.emplace(producer_.get(),
                   KafkaTransactions::Config{.input_topic = config_.source_topic,
                                             .commit_interval_ms = config_.transaction_ms,
                                             .group_metadata = config_.group_metadata},
                   counters_, clock_);
    } catch (...) {
      poll_stop_.store(true);
      poller_.join();
      throw;
    }
    spdlog::info("exactly-once output: transactional.id {}, a transaction every {} ms", config_.transactional_id,
                 config_.transaction_ms);
  }
}

KafkaSink::~KafkaSink() {
  poll_stop_.store(true);
  if (poller_.joinable()) poller_.join();
}

void KafkaSink::set_output_budget(std::size_t topic_limit) {
  std::size_t b = output_record_budget(producer_record_limit_, topic_limit);
  if (config_.max_record_bytes > 0) b = std::min(b, config_.max_record_bytes);
  output_budget_.store(b);
  spdlog::info("output records up to {} bytes (producer message.max.bytes {}, topics' max.message.bytes {})", b,
               producer_record_limit_, topic_limit ? std::to_string(topic_limit) : "not known yet");
}

bool KafkaSink::tick() {
  if (std::size_t limit = topic_limits_ ? topic_limits_->poll() : 0) set_output_budget(limit);
  return !txn_ || txn_->tick();
}

void KafkaSink::flush(int timeout_ms) { rd_kafka_flush(producer_.get(), timeout_ms); }

rd_kafka_resp_err_t KafkaSink::produce_one(const std::string& topic, std::string_view key, const void* value,
                                           std::size_t len, rd_kafka_headers_t* headers, RecordSlot* slot,
                                           bool may_block) {
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()), RD_KAFKA_V_VALUE(const_cast<void*>(value), len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (!err) return err;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && may_block) {
      rd_kafka_poll(producer_.get(), 10);
      continue;
    }
    spdlog::error("produce to {}: {}", topic, rd_kafka_err2str(err));
    if (headers) rd_kafka_headers_destroy(headers);  // librdkafka takes them only on success
    return err;
  }
}

bool KafkaSink::send_verdict(const VerdictOut& out, RecordSlot& slot) {
  const std::size_t budget = output_budget_.load();
  if (!record_fits(budget, out.record.key.size(), out.json.size(), 0)) {
    return produce_dead_letter(out.record, "verdict_too_large",
                               "a verdict of " + std::to_string(out.json.size()) + " bytes with a key of " +
                                   std::to_string(out.record.key.size()) + " bytes exceeds the output limit of " +
                                   std::to_string(budget) + " bytes",
                               slot);
  }
  rd_kafka_resp_err_t err =
      produce_one(config_.output_topic, out.record.key, out.json.data(), out.json.size(), nullptr, &slot);
  if (err && is_permanent_record_error(err)) {
    return produce_dead_letter(out.record, "output_rejected", std::string("verdict refused: ") + rd_kafka_err2str(err),
                               slot);
  }
  if (!err) counters_.verdicts.add();
  return !err;
}

bool KafkaSink::send_dead_letter(const DeadLetterOut& out, RecordSlot& slot) {
  return produce_dead_letter(out.record, out.reason, std::string(out.detail), slot);
}

// A dead letter for `r` (its bytes, key and headers, cut to fit the output
// budget as output_fit.h says, plus the dlq.* headers).
bool KafkaSink::produce_dead_letter(const SourceRecord& r, std::string_view reason, std::string detail,
                                    RecordSlot& slot) {
  const auto* m = static_cast<const rd_kafka_message_t*>(r.handle);
  if (detail.size() > 1024) detail.resize(1024);
  std::vector<std::pair<std::string_view, std::string>> dlq = {{"dlq.reason", std::string(reason)},
                                                               {"dlq.error", std::move(detail)},
                                                               {"dlq.source.topic", config_.source_topic},
                                                               {"dlq.source.partition", std::to_string(r.partition)},
                                                               {"dlq.source.offset", std::to_string(r.offset)}};
  std::size_t dlq_len = 0;
  for (const auto& [n, v] : dlq) dlq_len += header_bytes(n.size(), v.size());
  dlq_len += 4 * header_bytes(24, 20);  // room for the headers that report a cut
  DeadLetterCut cut =
      cut_dead_letter(output_budget_.load(), r.key.size(), r.value.size(), original_headers_len(m), dlq_len);
  rd_kafka_headers_t* original = nullptr;
  rd_kafka_headers_t* h = nullptr;
  if (m && cut.keep_original_headers && rd_kafka_message_headers(m, &original) == RD_KAFKA_RESP_ERR_NO_ERROR &&
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
    add("dlq.original.key.size", std::to_string(r.key.size()));
  }
  if (cut.value_cut) {
    add("dlq.truncated", "true");
    add("dlq.original.size", std::to_string(r.value.size()));
  }
  metrics_.dlq(reason).Increment();
  counters_.dead_letters.add();
  return !produce_one(config_.dlq_topic, r.key.substr(0, cut.key_len), r.value.data(), cut.value_len, h, &slot);
}

void KafkaSink::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  static_cast<KafkaSink*>(opaque)->delivered(msg);
}

void KafkaSink::delivered(const rd_kafka_message_t* msg) {
  auto* slot = static_cast<RecordSlot*>(msg->_private);
  if (!slot) return;
  if (msg->err && is_permanent_record_error(msg->err) && !(slot->sink_flags & kRerouted) && reroute(msg, slot)) {
    return;  // the slot now waits for the dead letter's delivery
  }
  if (msg->err) {
    spdlog::error("delivery failed: {}", rd_kafka_err2str(msg->err));
    counters_.produce_errors.add();
    slot->done(false);
    return;
  }
  counters_.acked.add();
  if (slot->source_ts_ms > 0) {
    double s = static_cast<double>(clock_.wall_ms() - slot->source_ts_ms) / 1000.0;
    if (s >= 0) {
      counters_.end_to_end.record(s);
      metrics_.end_to_end_latency.Observe(s);
    }
  }
  slot->done(true);
}

// A record the broker refused for good (too large for the topic, invalid):
// its source goes to the DLQ as a header-only record with the key cut, so
// the same refusal cannot repeat. Runs in the delivery callback.
bool KafkaSink::reroute(const rd_kafka_message_t* msg, RecordSlot* slot) {
  counters_.produce_errors.add();
  slot->sink_flags |= kRerouted;
  std::string_view topic = rd_kafka_topic_name(msg->rkt);
  spdlog::warn("{} refused a record of source offset {}:{} for good ({}); dead-lettering it", topic,
               slot->source_partition, slot->source_offset, rd_kafka_err2str(msg->err));
  rd_kafka_headers_t* h = rd_kafka_headers_new(8);
  auto add = [&](const char* name, const std::string& value) {
    rd_kafka_header_add(h, name, -1, value.data(), static_cast<ssize_t>(value.size()));
  };
  add("dlq.reason", "output_rejected");
  add("dlq.error", std::string(topic) + " refused the record: " + rd_kafka_err2str(msg->err));
  add("dlq.source.topic", config_.source_topic);
  add("dlq.source.partition", std::to_string(slot->source_partition));
  add("dlq.source.offset", std::to_string(slot->source_offset));
  add("dlq.original.size", std::to_string(msg->len));
  std::string_view key(static_cast<const char*>(msg->key), msg->key ? msg->key_len : 0);
  if (key.size() > kMaxCutKeyBytes) {
    key = key.substr(0, kMaxCutKeyBytes);
    add("dlq.key.truncated", "true");
  }
  add("dlq.truncated", "true");
  if (topic == config_.output_topic) {
    metrics_.dlq("output_rejected").Increment();
    counters_.dead_letters.add();
    counters_.verdicts.sub();
  }
  return !produce_one(config_.dlq_topic, key, nullptr, 0, h, slot, false);
}

}  // namespace fraud

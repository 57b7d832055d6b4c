#include "connectors/kafka/kafka_source.h"

#include <spdlog/spdlog.h>

namespace fraud {

KafkaSource::KafkaSource(KafkaSourceConfig config, EngineMetrics& metrics, PipelineCounters& counters)
    : config_(std::move(config)), metrics_(metrics), counters_(counters) {
  auto props = config_.properties;
  props.emplace("log_level", "4");
  props["group.id"] = config_.group;
  // Exactly-once commits the open transaction in the revoke callback, which
  // an eager protocol calls before every rebalance, while the generation its
  // offsets carry is still current; under cooperative rebalancing a member
  // that keeps its partitions gets no callback, and a transaction committed
  // while the group moves on is refused (ILLEGAL_GENERATION).
  props.emplace("partition.assignment.strategy", config_.exactly_once ? "roundrobin" : "cooperative-sticky");
  props["enable.auto.commit"] = config_.exactly_once ? "false" : "true";
  props.emplace("isolation.level", "read_committed");
  props["enable.auto.offset.store"] = "false";
  props.emplace("auto.offset.reset", "earliest");
  props.emplace("auto.commit.interval.ms", "1000");
  // Prefetch at most 16 MB (librdkafka's default is 64): while the engine is
  // behind, this queue fills up to that size, and the memory stays with the
  // process afterwards. 16 MB is ~70,000 events of the lending stream.
  props.emplace("queued.max.messages.kbytes", "16384");
  props.emplace("fetch.wait.max.ms", std::to_string(config_.fetch_wait_ms));
  // A record larger than the per-partition fetch size would stall the
  // partition on brokers that do not return oversized first batches; such
  // records must reach the DLQ instead.
  props.emplace("max.partition.fetch.bytes", "16777216");
  // Under the `pause` policy the poll loop waits (heartbeating the watchdog)
  // while Redis is down; keep the group membership for an hour of outage
  // instead of librdkafka's 5 minutes. A truly stuck loop is caught by
  // /healthz (liveness) long before.
  props.emplace("max.poll.interval.ms", "3600000");
  props.emplace("statistics.interval.ms", std::to_string(config_.statistics_interval_ms));
  rd_kafka_conf_t* conf = make_kafka_conf(props);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::on_rebalance);
  rd_kafka_conf_set_stats_cb(conf, &KafkaSource::on_statistics);
  consumer_ = make_kafka_client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(consumer_.get());
  subscription_ = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subscription_, config_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), subscription_);
  if (err) throw std::runtime_error(std::string("subscribe: ") + rd_kafka_err2str(err));
}

KafkaSource::~KafkaSource() {
  finish();
  if (subscription_) rd_kafka_topic_partition_list_destroy(subscription_);
}

EventSource::Poll KafkaSource::next(int wait_ms, SourceRecord& out, ByteArena&) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), wait_ms);
  if (!m) return Poll::kNone;
  if (m->err) {
    Poll result = Poll::kNone;
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("consumer: {}", rd_kafka_message_errstr(m));
      char reason[512];
      if (rd_kafka_fatal_error(consumer_.get(), reason, sizeof reason)) {
        fatal_reason_ = std::string("fatal consumer error: ") + reason;
        result = Poll::kFatal;
      }
    }
    rd_kafka_message_destroy(m);
    return result;
  }
  rd_kafka_timestamp_type_t tstype;
  std::int64_t ts = rd_kafka_message_timestamp(m, &tstype);
  out.value = std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
  out.key = std::string_view(static_cast<const char*>(m->key), m->key ? m->key_len : 0);
  out.partition = m->partition;
  out.offset = m->offset;
  out.record_ts_ms = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts;
  out.handle = m;
  return Poll::kRecord;
}

void KafkaSource::release(std::span<const SourceRecord> records) {
  for (const SourceRecord& r : records) {
    rd_kafka_message_destroy(static_cast<rd_kafka_message_t*>(const_cast<void*>(r.handle)));
  }
}

void KafkaSource::commit(std::span<const Position> positions) {
  if (config_.exactly_once) return;  // committed with the output (KafkaTransactions)
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(positions.size()));
  for (const Position& p : positions) {
    rd_kafka_topic_partition_list_add(list, config_.topic.c_str(), p.partition)->offset = p.next_offset;
  }
  rd_kafka_offsets_store(consumer_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaSource::finish() {
  if (finished_ || !consumer_) return;
  finished_ = true;
  if (!config_.exactly_once) rd_kafka_commit(consumer_.get(), nullptr, 0);
  rd_kafka_consumer_close(consumer_.get());
}

void KafkaSource::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                               void* opaque) {
  static_cast<KafkaSource*>(opaque)->rebalance(rk, err, parts);
}

int KafkaSource::on_statistics(rd_kafka_t*, char* json, size_t len, void* opaque) {
  static_cast<KafkaSource*>(opaque)->statistics(std::string_view(json, len));
  return 0;  // librdkafka frees json
}

void KafkaSource::rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  counters_.rebalances.add();
  const bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    spdlog::info("assigned {} partition(s)", parts->cnt);
    counters_.assigned_partitions.fetch_add(parts->cnt);
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
    return;
  }
  // Revoked (or lost): finish and commit what we hold before letting go.
  spdlog::info("revoking {} partition(s)", parts->cnt);
  if (listener_) listener_->before_revoke();
  if (!config_.exactly_once && (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || !rd_kafka_assignment_lost(rk))) {
    rd_kafka_commit(rk, nullptr, 0);
  }
  counters_.assigned_partitions.fetch_sub(cooperative ? parts->cnt : counters_.assigned_partitions.load());
  if (cooperative) {
    if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// Consumer lag per partition, from librdkafka's statistics JSON.
void KafkaSource::statistics(std::string_view json) {
  simdjson::dom::element root;
  if (stats_parser_.parse(json.data(), json.size(), true).get(root)) return;
  simdjson::dom::object parts;
  if (root["topics"][config_.topic]["partitions"].get_object().get(parts)) return;
  for (auto field : parts) {
    std::int64_t partition = 0, lag = 0;
    if (field.value["partition"].get_int64().get(partition) || partition < 0) continue;
    if (field.value["consumer_lag"].get_int64().get(lag) || lag < 0) continue;
    metrics_.consumer_lag.Add({{"topic", config_.topic}, {"partition", std::to_string(partition)}})
        .Set(static_cast<double>(lag));
  }
}

}  // namespace fraud

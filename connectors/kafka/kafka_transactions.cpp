#include "connectors/kafka/kafka_transactions.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

namespace fraud {

namespace {
// Calls `call` again while it fails with a retriable error (a coordinator
// moving), for up to `timeout_ms`; returns its last error, or null.
template <class Call>
rd_kafka_error_t* retrying(Clock& clock, int timeout_ms, const char* what, Call call) {
  const std::int64_t deadline = clock.steady_ms() + timeout_ms;
  while (rd_kafka_error_t* e = call()) {
    if (!rd_kafka_error_is_retriable(e) || clock.steady_ms() >= deadline) return e;
    spdlog::warn("{}: {} (retrying)", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    clock.sleep_ms(100);
  }
  return nullptr;
}
}  // namespace

KafkaTransactions::KafkaTransactions(rd_kafka_t* producer, Config config, PipelineCounters& counters, Clock& clock)
    : producer_(producer), config_(std::move(config)), counters_(counters), clock_(clock) {
  if (rd_kafka_error_t* e = rd_kafka_init_transactions(producer_, config_.timeout_ms)) {
    std::string why = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    throw std::runtime_error("kafka.delivery exactly_once: init_transactions: " + why);
  }
}

bool KafkaTransactions::begin_batch() {
  std::lock_guard lock(mu_);
  if (!error_.empty()) return false;
  in_batch_ = true;
  if (open_) return true;
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_)) return fail("begin_transaction", e);
  open_ = true;
  opened_ms_ = clock_.steady_ms();
  return true;
}

bool KafkaTransactions::end_batch(std::span<const Position> positions, bool produced) {
  std::lock_guard lock(mu_);
  in_batch_ = false;
  if (!error_.empty()) return false;
  if (!produced) frozen_ = true;
  if (!frozen_) {
    for (const Position& p : positions) advance_position(positions_, p.partition, p.next_offset);
  }
  if (open_ && clock_.steady_ms() - opened_ms_ >= config_.commit_interval_ms) return commit_locked();
  return true;
}

bool KafkaTransactions::tick() {
  std::lock_guard lock(mu_);
  if (!error_.empty()) return false;
  if (!open_ || in_batch_ || clock_.steady_ms() - opened_ms_ < config_.commit_interval_ms) return true;
  return commit_locked();
}

bool KafkaTransactions::commit() {
  std::lock_guard lock(mu_);
  if (!error_.empty()) return false;
  return !open_ || commit_locked();
}

bool KafkaTransactions::commit_locked() {
  const auto t0 = std::chrono::steady_clock::now();
  if (!positions_.empty()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(positions_.size()));
    for (const Position& p : positions_) {
      rd_kafka_topic_partition_list_add(list, config_.input_topic.c_str(), p.partition)->offset = p.next_offset;
    }
    rd_kafka_error_t* e = retrying(clock_, config_.timeout_ms, "send_offsets_to_transaction", [&] {
      rd_kafka_consumer_group_metadata_t* group = config_.group_metadata();
      rd_kafka_error_t* r = rd_kafka_send_offsets_to_transaction(producer_, list, group, config_.timeout_ms);
      rd_kafka_consumer_group_metadata_destroy(group);
      return r;
    });
    rd_kafka_topic_partition_list_destroy(list);
    if (e) return fail("send_offsets_to_transaction", e);
  }
  if (rd_kafka_error_t* e = retrying(clock_, config_.timeout_ms, "commit_transaction",
                                     [&] { return rd_kafka_commit_transaction(producer_, config_.timeout_ms); })) {
    return fail("commit_transaction", e);
  }
  open_ = false;
  positions_.clear();
  counters_.transactions.add();
  counters_.transaction_commit_us.add(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count()));
  return true;
}

bool KafkaTransactions::fail(const std::string& what, rd_kafka_error_t* e) {
  error_ = what + ": " + rd_kafka_error_string(e);
  const bool abortable = rd_kafka_error_txn_requires_abort(e);
  rd_kafka_error_destroy(e);
  if (abortable && open_) {
    // Nothing of it becomes visible to read_committed readers, and its
    // positions are not committed: the restart reads those records again.
    if (rd_kafka_error_t* a = rd_kafka_abort_transaction(producer_, config_.timeout_ms)) {
      error_ += std::string("; abort_transaction: ") + rd_kafka_error_string(a);
      rd_kafka_error_destroy(a);
    }
  }
  open_ = false;
  spdlog::error("exactly-once output: {}", error_);
  return false;
}

}  // namespace fraud

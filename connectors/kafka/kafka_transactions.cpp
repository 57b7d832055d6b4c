#include "connectors/kafka/kafka_transactions.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace fraud {

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
    for (const Position& p : positions) {
      auto at = std::find_if(positions_.begin(), positions_.end(),
                             [&](const Position& q) { return q.partition == p.partition; });
      if (at == positions_.end()) {
        positions_.push_back(p);
      } else {
        at->next_offset = std::max(at->next_offset, p.next_offset);
      }
    }
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
    // Retriable errors (a coordinator moving) are retried within the timeout.
    const std::int64_t deadline = clock_.steady_ms() + config_.timeout_ms;
    rd_kafka_error_t* e = nullptr;
    while (true) {
      rd_kafka_consumer_group_metadata_t* group = config_.group_metadata();
      e = rd_kafka_send_offsets_to_transaction(producer_, list, group, config_.timeout_ms);
      rd_kafka_consumer_group_metadata_destroy(group);
      if (!e || !rd_kafka_error_is_retriable(e) || clock_.steady_ms() >= deadline) break;
      spdlog::warn("send_offsets_to_transaction: {} (retrying)", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      clock_.sleep_ms(100);
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (e) return fail("send_offsets_to_transaction", e);
  }
  const std::int64_t deadline = clock_.steady_ms() + config_.timeout_ms;
  while (rd_kafka_error_t* e = rd_kafka_commit_transaction(producer_, config_.timeout_ms)) {
    if (!rd_kafka_error_is_retriable(e) || clock_.steady_ms() >= deadline) return fail("commit_transaction", e);
    spdlog::warn("commit_transaction: {} (retrying)", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    clock_.sleep_ms(100);
  }
  open_ = false;
  positions_.clear();
  ++commits_;
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

std::string KafkaTransactions::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

std::uint64_t KafkaTransactions::commits() const {
  std::lock_guard lock(mu_);
  return commits_;
}

}  // namespace fraud

// KafkaTransactions: exactly-once output (kafka.delivery: exactly_once). The
// sink's records of a few batches and the input positions after them are
// committed in one Kafka transaction (KIP-98), with the positions sent
// through send_offsets_to_transaction and the consumer's group metadata, so
// a zombie of an older group generation is fenced (KIP-447). A
// `read_committed` reader of the verdict topic then sees each input record's
// output once, across crashes, restarts and rebalances.
//
// A transaction opens with the first record after a commit and commits once
// it is `commit_interval_ms` old, at the end of a batch or from tick() while
// the pipeline is idle, and always before partitions are revoked and at
// shutdown. Any error that aborts a transaction is fatal to the engine (it
// exits; the restart resumes from the last committed positions, and the
// feature store's per-position idempotency keeps features exact).
//
// Thread safety: every method may be called from any thread; calls are
// serialised, and a commit never runs between begin_batch and end_batch.
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/pipeline/clock.h"
#include "engine/pipeline/event_source.h"
#include "engine/pipeline/pipeline_config.h"

namespace fraud {

class KafkaTransactions {
 public:
  struct Config {
    std::string input_topic;  // the topic the positions belong to
    int commit_interval_ms = 100;
    int timeout_ms = 30'000;  // for init, commit and abort calls
    // The input consumer's group metadata (new object, freed here).
    std::function<rd_kafka_consumer_group_metadata_t*()> group_metadata;
  };

  // Calls init_transactions (fencing an older producer with the same
  // transactional.id); throws if the broker cannot be reached or refuses.
  KafkaTransactions(rd_kafka_t* producer, Config config, PipelineCounters& counters, Clock& clock);

  // Before the records of a batch: opens a transaction if none is open.
  // False (the error logged) if it cannot; every later call is false too.
  bool begin_batch();
  // After them: the batch's positions join the transaction (`produced`
  // false: the batch was not produced, so no later position may be
  // committed either); commits if the transaction is old enough.
  bool end_batch(std::span<const Position> positions, bool produced);
  // Commits an idle transaction that is old enough (poll thread).
  bool tick();
  // Commits the open transaction now (revocation, shutdown).
  bool commit();

 private:
  bool commit_locked();
  bool fail(const std::string& what, rd_kafka_error_t* e);

  rd_kafka_t* producer_;
  Config config_;
  PipelineCounters& counters_;  // transactions, transaction_commit_us
  Clock& clock_;
  std::mutex mu_;
  bool open_ = false;
  bool in_batch_ = false;
  bool frozen_ = false;  // a batch was not produced: positions stop there
  std::int64_t opened_ms_ = 0;
  std::vector<Position> positions_;  // next offset per partition, in this transaction
  std::string error_;                // the first failure; non-empty: every call fails
};

}  // namespace fraud

// Output record sizes: what fits the verdict and dead-letter topics, and how
// a dead letter is cut so that it always fits.
//
// Kafka counts a record's key, value and headers against the producer's
// `message.max.bytes` (librdkafka refuses larger records at once) and the
// topic's `max.message.bytes` (the broker rejects them at delivery). Either
// failure repeats forever for the same record, so the engine checks every
// record against the smaller limit before producing it:
//  - a verdict that would not fit (a huge `event_id`, a huge key) goes to the
//    dead-letter topic instead, reason `verdict_too_large`;
//  - a dead letter keeps its key, value and original headers when they fit;
//    otherwise it drops the original headers first, then cuts the key to
//    kMaxCutKeyBytes, then cuts the value to what is left, and says so in
//    its headers (`dlq.truncated`, `dlq.original.size`, `dlq.key.truncated`,
//    `dlq.original.key.size`, `dlq.headers.dropped`).
// Pure functions; no Kafka types.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fraud {

// Room kept under the limit for the record's own framing (lengths, offsets,
// timestamps, the record batch header) - generous on purpose.
inline constexpr std::size_t kRecordFraming = 1024;
// A dead letter's key is cut to this when the whole key does not fit.
inline constexpr std::size_t kMaxCutKeyBytes = 1024;
// The bytes a header costs on the wire beyond its name and value (varints).
inline constexpr std::size_t kHeaderFraming = 12;

// The largest record the engine produces: the smaller of the producer's and
// the topics' limits (0: unknown, ignored), minus framing.
std::size_t output_record_budget(std::size_t producer_max_bytes, std::size_t topic_max_bytes);

// Bytes one header costs.
inline std::size_t header_bytes(std::size_t name_len, std::size_t value_len) {
  return name_len + value_len + kHeaderFraming;
}

inline bool record_fits(std::size_t budget, std::size_t key_len, std::size_t value_len, std::size_t headers_len) {
  return key_len <= budget && value_len <= budget - key_len && headers_len <= budget - key_len - value_len;
}

struct DeadLetterCut {
  std::size_t key_len = 0;    // bytes of the original key kept
  std::size_t value_len = 0;  // bytes of the original value kept
  bool keep_original_headers = true;
  bool key_cut = false;
  bool value_cut = false;
};

// How much of a dead letter to keep. `dlq_headers_len`: the dlq.* headers
// the engine adds, including the ones that report a cut (callers pass an
// upper bound). Always returns a cut that fits `budget` when
// dlq_headers_len + kMaxCutKeyBytes <= budget.
DeadLetterCut cut_dead_letter(std::size_t budget, std::size_t key_len, std::size_t value_len,
                              std::size_t original_headers_len, std::size_t dlq_headers_len);

// Produce errors that the same record would meet again on every retry.
bool is_permanent_record_error(int rd_kafka_resp_err);

}  // namespace fraud

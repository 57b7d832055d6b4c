#include "connectors/kafka/output_fit.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

namespace fraud {

std::size_t output_record_budget(std::size_t producer_max_bytes, std::size_t topic_max_bytes) {
  std::size_t limit = producer_max_bytes;
  if (topic_max_bytes > 0 && (limit == 0 || topic_max_bytes < limit)) limit = topic_max_bytes;
  return limit > 2 * kRecordFraming ? limit - kRecordFraming : limit / 2;
}

DeadLetterCut cut_dead_letter(std::size_t budget, std::size_t key_len, std::size_t value_len,
                              std::size_t original_headers_len, std::size_t dlq_headers_len) {
  DeadLetterCut cut;
  cut.key_len = key_len;
  cut.value_len = value_len;
  if (record_fits(budget, key_len, value_len, original_headers_len + dlq_headers_len)) return cut;
  std::size_t headers = original_headers_len + dlq_headers_len;
  if (original_headers_len > 0 && !record_fits(budget, key_len, 0, headers)) {
    cut.keep_original_headers = false;
    headers = dlq_headers_len;
  }
  if (!record_fits(budget, key_len, 0, headers)) {
    cut.key_len = std::min(key_len, kMaxCutKeyBytes);
    cut.key_cut = cut.key_len < key_len;
  }
  std::size_t used = cut.key_len + headers;
  std::size_t room = used < budget ? budget - used : 0;
  if (value_len > room) {
    cut.value_len = room;
    cut.value_cut = true;
  }
  return cut;
}

bool is_permanent_record_error(int err) {
  switch (static_cast<rd_kafka_resp_err_t>(err)) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
      return true;
    default:
      return false;
  }
}

}  // namespace fraud

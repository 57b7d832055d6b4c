#include "engine/pipeline/batch_stages.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "engine/time_text.h"

namespace fraud {

std::optional<StoreFailurePolicy> parse_failure_policy(std::string_view s) {
  if (s == "pause") return StoreFailurePolicy::kPause;
  if (s == "fail_open") return StoreFailurePolicy::kFailOpen;
  if (s == "fail_closed") return StoreFailurePolicy::kFailClosed;
  return std::nullopt;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Replay's --record-time: ms since the epoch as a number or RFC 3339 text.
std::int64_t record_time_of(const Value& v) {
  if (v.is_number() && v.number >= 0 && v.number < 9.0e15) return static_cast<std::int64_t>(v.number);
  if (v.is_string()) return parse_rfc3339_ms(v.text).value_or(-1);
  return -1;
}

}  // namespace

void BatchStages::parse(PipelineBatch& b) {
  auto t0 = std::chrono::steady_clock::now();
  EventParser& parser = b.parser_for(config_.max_event_bytes);
  const std::size_t n = b.records.size();
  b.events.resize(n);
  b.valid.assign(n, 0);
  b.errors.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const SourceRecord& r = b.records[i];
    if (!parser.parse(r.value, b.events[i], b.errors[i])) continue;
    b.valid[i] = 1;
    b.ptrs.push_back(&b.events[i]);
    std::int64_t record_ts = r.record_ts_ms;
    if (config_.record_time_field) record_ts = record_time_of(b.events[i].fields[*config_.record_time_field]);
    b.sources.push_back({source_name_, r.partition, r.offset, record_ts});
    b.rule_metrics->events_of_type(b.events[i].event_type).Increment();
  }
  // Feature ops and their store digests depend on this batch alone: done
  // here, in parallel, rather than in the serial features stage.
  b.processor.plan(*b.rules, b.ptrs, b.sources);
  if (std::size_t clamped = b.processor.clamped_events()) {
    counters_.future_events.add(clamped);
  }
  store_.digest(*b.rules, b.processor.ops_to_digest());
  // While the features stage is behind, this batch's keys are known before
  // the batches ahead of it are applied: the store may fetch ahead.
  store_.prefetch(*b.rules, b.processor.ops());
  metrics_.stage_latency(EngineMetrics::kParse).Observe(seconds_since(t0));
}

void BatchStages::features(PipelineBatch& b) {
  auto t0 = std::chrono::steady_clock::now();
  while (true) {
    auto s0 = std::chrono::steady_clock::now();
    counters_.store_requests.add();
    b.store_status = store_.apply(*b.rules, b.processor.ops(), b.processor.results());
    metrics_.feature_store_latency.Observe(seconds_since(s0));
    counters_.store_ok.store(b.store_status.ok);
    if (b.store_status.ok) {
      if (!b.store_status.late_ops.empty()) {
        b.processor.mark_late(b.store_status.late_ops);
        for (std::uint32_t i : b.store_status.late_ops) {
          b.rule_metrics->late_events[b.processor.ops()[i].feature]->Increment();
        }
      }
      if (b.store_status.state_reset) {
        // The state is gone and cannot come back by waiting: verdicts go out
        // flagged (fail_closed: declined), whatever the policy.
        spdlog::error(
            "feature store lost its data (Redis restarted empty or was flushed): velocity features restart "
            "from zero; verdicts of this batch are marked degraded");
        b.state_reset = true;
      }
      break;
    }
    counters_.store_failures.add();
    if (config_.failure_policy != StoreFailurePolicy::kPause) {
      spdlog::warn("feature store: {}; evaluating without features ({})", b.store_status.error,
                   config_.failure_policy == StoreFailurePolicy::kFailOpen ? "fail_open" : "fail_closed");
      b.degraded = true;
      break;
    }
    spdlog::warn("feature store: {}; retrying in {} ms", b.store_status.error, config_.store_retry_ms);
    if (stopping_.load()) {
      b.failed = true;
      break;
    }
    clock_.sleep_ms(config_.store_retry_ms);
  }
  metrics_.stage_latency(EngineMetrics::kFeatures).Observe(seconds_since(t0));
}

void BatchStages::evaluate(PipelineBatch& b) {
  if (b.failed) return;
  auto t0 = std::chrono::steady_clock::now();
  const RuleSet& rs = *b.rules;
  const std::size_t n = b.ptrs.size();
  b.verdicts.resize(n);
  b.encoded.resize(n);
  b.rule_hits.assign(rs.rules.size(), 0);
  b.processor.score_models(rs, b.scratch, b.degraded);
  for (std::size_t m = 0; m < rs.models.size() && m < b.rule_metrics->model_scores.size(); ++m) {
    for (float s : b.processor.model_scores(m)) b.rule_metrics->model_scores[m]->Observe(s);
  }
  for (std::size_t i = 0; i < n; ++i) {
    Verdict& v = b.verdicts[i];
    b.processor.evaluate(rs, i, v, b.scratch, b.degraded);
    v.degraded |= b.state_reset;
    if (v.degraded && config_.failure_policy == StoreFailurePolicy::kFailClosed) v.decision = Decision::kDecline;
    ++b.decisions[static_cast<int>(v.decision)];
    for (std::size_t h = 0; h < v.hit_count; ++h) ++b.rule_hits[v.hits[h].rule];
    for (std::size_t h = 0; h < v.shadow_count; ++h) ++b.rule_hits[v.shadow_hits[h].rule];
    b.encoded[i].clear();
    if (config_.encode_verdicts) {
      encode_verdict(rs, *b.ptrs[i], v, b.processor.features_of(i), b.sources[i], b.encoded[i]);
    }
  }
  if (b.degraded || b.state_reset) counters_.degraded_verdicts.add(n);
  metrics_.stage_latency(EngineMetrics::kEvaluate).Observe(seconds_since(t0));
}

}  // namespace fraud

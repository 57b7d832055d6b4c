#include "engine/pipeline/pipeline_batch.h"

namespace fraud {

namespace {
// Strings and event arenas bigger than this are released when a batch is
// recycled, so one huge event does not pin its buffer in the pool.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;
}  // namespace

void PipelineBatch::reset() {
  rules.reset();
  rule_metrics.reset();
  hit_counts.reset();
  records.clear();
  arena.reset();
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
  failed = false;
  degraded = false;
  state_reset = false;
  for (auto& d : decisions) d = 0;
}

EventParser& PipelineBatch::parser_for(std::size_t max_event_bytes) {
  if (parser_rules != rules || !parser) {
    parser.reset();
    parser_rules = rules;
    parser.emplace(rules->fields, max_event_bytes);
  }
  return *parser;
}

BatchPool::~BatchPool() {
  for (PipelineBatch* b : spare_) delete b;
}

PipelineBatch* BatchPool::take() {
  {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      PipelineBatch* b = spare_.back();
      spare_.pop_back();
      return b;
    }
  }
  allocated_.Increment();
  return new PipelineBatch(options_);
}

void BatchPool::give_back(PipelineBatch* b) {
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

}  // namespace fraud

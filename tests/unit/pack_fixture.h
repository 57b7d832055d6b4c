// Test helpers: compile an inline pack, run events (JSON text) through the
// in-memory store, and look at verdicts.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connectors/memory/memory_feature_store.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"

namespace fraud::testing {

inline std::shared_ptr<const RuleSet> compile_ok(const std::string& yaml) {
  PackLoadResult r = compile_pack({{"pack.yaml", yaml}});
  EXPECT_TRUE(r.ok()) << r.diagnostics.to_text();
  return r.rules;
}

inline Diagnostics compile_errors(const std::string& yaml) {
  PackLoadResult r = compile_pack({{"pack.yaml", yaml}});
  EXPECT_FALSE(r.ok()) << "pack compiled but should not";
  return r.diagnostics;
}

struct Outcome {
  Verdict verdict;
  std::vector<Value> features;
  std::string json;
};

// Feeds events in order through one store; every event must be valid.
class Runner {
 public:
  explicit Runner(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)) {}

  // `record_ts_ms`: the record time of the event's source (-1: unknown).
  Outcome run(const std::string& event_json, std::int64_t record_ts_ms = -1) {
    SourceRecord record{.value = event_json, .offset = static_cast<std::int64_t>(n_++), .record_ts_ms = record_ts_ms};
    const PipelineBatch& b = runner_.run(rules_, std::span(&record, 1));
    Outcome o;
    EXPECT_TRUE(b.valid[0]) << b.errors[0].detail << " in " << event_json;
    if (!b.valid[0]) return o;
    EXPECT_TRUE(b.store_status.ok) << b.store_status.error;
    o.verdict = b.verdicts[0];
    auto f = b.processor.features_of(0);
    o.features.assign(f.begin(), f.end());
    o.json = b.encoded[0];
    // Values of strings would dangle once the next event runs; tests only read numbers.
    return o;
  }

  Value feature(const Outcome& o, const std::string& name) const {
    auto id = rules_->feature_index(name);
    EXPECT_TRUE(id.has_value()) << name;
    return id ? o.features[*id] : Value::null();
  }

  const RuleSet& rules() const { return *rules_; }

 private:
  std::shared_ptr<const RuleSet> rules_;
  MemoryFeatureStore store_;
  BatchRunner runner_{store_, BatchRunner::Options{.read_all_features = true}};
  std::size_t n_ = 0;
};

}  // namespace fraud::testing

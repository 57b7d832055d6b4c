// Test helpers: compile an inline pack, run events (JSON text) through the
// in-memory store, and look at verdicts.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "connectors/memory/memory_feature_store.h"
#include "engine/batch_processor.h"
#include "engine/pack_loader.h"

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
    Event ev;
    EventError err;
    EventParser parser(rules_->fields);
    EXPECT_TRUE(parser.parse(event_json, ev, err)) << err.detail << " in " << event_json;
    BatchProcessor processor(BatchProcessor::Options{.read_all_features = true});
    const Event* ptr = &ev;
    SourceRef src{"t", 0, static_cast<std::int64_t>(n_++), record_ts_ms};
    Outcome o;
    std::vector<Verdict> v(1);
    StoreStatus st = processor.process(*rules_, store_, std::span<const Event* const>(&ptr, 1),
                                       std::span<const SourceRef>(&src, 1), v);
    EXPECT_TRUE(st.ok);
    o.verdict = v[0];
    auto f = processor.features_of(0);
    o.features.assign(f.begin(), f.end());
    encode_verdict(*rules_, ev, v[0], f, src, o.json);
    // Values of strings would dangle after `ev` dies; tests only read numbers.
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
  std::size_t n_ = 0;
};

}  // namespace fraud::testing

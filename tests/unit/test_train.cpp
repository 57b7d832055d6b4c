// `fraudstream train` (train_model): rows are the point-in-time features an
// event had when processed, the split is by event time, labels known after
// the cut-off stay out of training, the written model loads into the pack and
// scores as trained, and the sidecar records what was done.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/cli/train.h"
#include "engine/pack_loader.h"
#include "pack_fixture.h"

namespace fs = std::filesystem;
using namespace fraud;
using namespace fraud::testing;

namespace {

// Fraud: a device that has already been seen (the feature counts it) and a
// large amount; honest applicants come from new devices.
const char* kPack = R"(features:
  - name: apps_per_device_1h
    agg: count
    by: device
    window: 1h
models:
  - name: m
    file: m.json
    where: event_type == "apply"
    inputs: [apps_per_device_1h, amount]
rules:
  - name: r
    when: m >= 0.5
    reason: risky
)";

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

fs::path write_case(const std::string& name, std::string& events) {
  fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir / "pack");
  std::ofstream(dir / "pack" / "p.yaml") << kPack;
  for (int i = 0; i < 4000; ++i) {
    bool fraud = i % 5 == 0;
    // Fraud reuses one device per pair of events: the second sees count 2.
    std::string device = fraud ? "shared-" + std::to_string(i / 10) : "d-" + std::to_string(i);
    int amount = fraud ? 400 + i % 100 : 100 + i % 400;
    events += "{\"event_id\":\"e" + std::to_string(i) +
              "\",\"event_type\":\"apply\",\"ts\":" + std::to_string(1'000'000 + i * 1000) + ",\"device\":\"" + device +
              "\",\"amount\":" + std::to_string(amount) + ",\"fraud\":" + (fraud ? "1" : "0") +
              ",\"known\":" + std::to_string(1'000'000 + i * 1000 + (i % 2 ? 500'000 : 0)) + "}\n";
  }
  events += "{\"event_id\":\"x\",\"event_type\":\"other\",\"ts\":5000000,\"fraud\":1}\n";  // outside the where
  std::ofstream(dir / "events.jsonl") << events;
  return dir;
}

// Training model m of the case's pack on its label `fraud`, on one thread.
TrainOptions options(int rounds) {
  TrainOptions o;
  o.model = "m";
  o.label = "fraud";
  o.params.rounds = rounds;
  o.params.threads = 1;
  return o;
}

int train(const fs::path& dir, const TrainOptions& o, std::ostream& out, std::ostream& err) {
  return train_model(dir / "pack", dir / "events.jsonl", dir / "pack" / "m.json", o, out, err);
}

}  // namespace

TEST(Train, SplitsByEventTimeWritesTheModelAndItsSidecar) {
  std::string events;
  fs::path dir = write_case("train-case", events);
  TrainOptions o = options(20);
  o.params.max_depth = 3;
  std::ostringstream out, err;
  ASSERT_EQ(train(dir, o, out, err), 0) << err.str() << out.str();
  EXPECT_NE(out.str().find("4000 labelled rows"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("1 outside the model's where"), std::string::npos) << out.str();
  // Default split: the last 20% of event time validates.
  EXPECT_NE(out.str().find("train:      3200 rows"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("validation: 800 rows"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("PR-AUC"), std::string::npos);
  EXPECT_NE(out.str().find("rules: review or decline"), std::string::npos);

  simdjson::dom::parser parser;
  simdjson::padded_string side(read(dir / "pack" / "m.training.json"));
  simdjson::dom::element s = parser.parse(side);
  EXPECT_EQ(std::string_view(s["model"]), "m");
  EXPECT_EQ(int64_t(s["train"]["rows"]), 3200);
  EXPECT_EQ(int64_t(s["validation"]["rows"]), 800);
  EXPECT_EQ(int64_t(s["parameters"]["rounds"]), 20);
  EXPECT_EQ(std::string_view(s["data_sha256"]).size(), 64u);
  EXPECT_GT(double(s["metrics"]["pr_auc"]), 0.7) << "the device signal is learnable";

  // The model now loads with the pack and flags what it learned.
  PackLoadResult pack = load_pack_directory(dir / "pack");
  ASSERT_TRUE(pack.ok()) << pack.diagnostics.to_text();
  Runner runner(pack.rules);
  runner.run(R"({"event_id":"a","event_type":"apply","ts":1,"device":"z","amount":450})");
  Outcome second = runner.run(R"({"event_id":"b","event_type":"apply","ts":2,"device":"z","amount":450})");
  Outcome honest = runner.run(R"({"event_id":"c","event_type":"apply","ts":3,"device":"y","amount":150})");
  EXPECT_EQ(second.verdict.hit_count, 1u) << second.json;
  EXPECT_EQ(honest.verdict.hit_count, 0u) << honest.json;

  // Training again is deterministic: same rows, same model.
  std::string first_model = read(dir / "pack" / "m.json");
  ASSERT_EQ(train(dir, o, out, err), 0);
  EXPECT_EQ(read(dir / "pack" / "m.json"), first_model);
}

TEST(Train, LabelsKnownAfterTheCutOffDoNotTrain) {
  std::string events;
  fs::path dir = write_case("train-label-time", events);
  TrainOptions o = options(5);
  o.label_time = "known";
  o.validate_from_ms = 1'000'000 + 2000 * 1000;  // events 0..1999 train, 2000.. validate
  std::ostringstream out, err;
  ASSERT_EQ(train(dir, o, out, err), 0) << err.str();
  // Odd events' labels arrive 500 s later: those of events 1501..1999 come after the cut-off.
  EXPECT_NE(out.str().find("train:      1750 rows"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("(250 left out: label known after the cut-off)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("validation: 2000 rows"), std::string::npos) << out.str();
}

TEST(Train, RefusesAnUnknownModelOrOneLabel) {
  std::string events;
  fs::path dir = write_case("train-refusals", events);
  TrainOptions o = options(2);
  std::ostringstream out, err;
  ASSERT_EQ(train(dir, o, out, err), 0) << err.str();
  o.model = "nope";
  EXPECT_EQ(train(dir, o, out, err), 2);
  EXPECT_NE(err.str().find("declares no model 'nope'"), std::string::npos) << err.str();
  o.model = "m";
  o.validate_from_ms = 0;  // nothing before it
  std::ostringstream err2;
  EXPECT_EQ(train(dir, o, out, err2), 1);
  EXPECT_NE(err2.str().find("both labels are needed"), std::string::npos) << err2.str();
}

// Stats declared once (engine/stats.h): one list yields the fields, the
// Prometheus families and the /stats JSON.
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "engine/feature_store.h"
#include "engine/pipeline/pipeline_config.h"
#include "engine/stats.h"

namespace fraud {
namespace {

#define TEST_STATS(X)                                                   \
  X(requests, kCounter, "t_requests_total", "", "Requests sent")        \
  X(ok, kCounter, "t_results_total", "result=ok", "Results, by result") \
  X(failed, kCounter, "t_results_total", "result=failed", "")           \
  X(queued, kGauge, "t_queued", "", "Requests waiting")                 \
  X(json_only, kCounter, "", "", "")
FRAUD_STATS_STRUCT(TestStats, TEST_STATS)

TEST(Stats, OneListYieldsFieldsFamiliesAndJson) {
  TestStats s;
  s.requests.add(3);
  s.ok.add();
  s.failed.add(2);
  s.queued.add(5);
  s.queued.sub(1);
  s.json_only.set(9);
  EXPECT_EQ(s.requests, 3u);

  std::vector<prometheus::MetricFamily> families;
  collect_stats(s, families);
  ASSERT_EQ(families.size(), 3u);  // the two results share a family; json_only has none
  EXPECT_EQ(families[0].name, "t_requests_total");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Counter);
  EXPECT_EQ(families[0].metric[0].counter.value, 3);
  EXPECT_EQ(families[1].name, "t_results_total");
  EXPECT_EQ(families[1].help, "Results, by result");
  ASSERT_EQ(families[1].metric.size(), 2u);
  EXPECT_EQ(families[1].metric[0].label[0].name, "result");
  EXPECT_EQ(families[1].metric[0].label[0].value, "ok");
  EXPECT_EQ(families[1].metric[1].label[0].value, "failed");
  EXPECT_EQ(families[1].metric[1].counter.value, 2);
  EXPECT_EQ(families[2].type, prometheus::MetricType::Gauge);
  EXPECT_EQ(families[2].metric[0].gauge.value, 4);

  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, families);
  EXPECT_NE(text.str().find("t_results_total{result=\"failed\"} 2"), std::string::npos) << text.str();

  std::string json = "{\"x\":1";
  append_stats_json_of(s, "p_", json);
  EXPECT_EQ(json, "{\"x\":1,\"p_requests\":3,\"p_ok\":1,\"p_failed\":2,\"p_queued\":4,\"p_json_only\":9");
}

// The engine's two lists keep the series SREs' dashboards and alerts read.
TEST(Stats, EngineListsKeepTheirSeriesNames) {
  PipelineCounters pipeline;
  FeatureStoreStats store;
  pipeline.decision(Decision::kReview).add(2);
  std::vector<prometheus::MetricFamily> families;
  collect_stats(pipeline, families);
  collect_stats(store, families);
  auto has = [&](const std::string& name) {
    for (const auto& f : families) {
      if (f.name == name) return true;
    }
    return false;
  };
  for (const char* name :
       {"fraud_verdicts_total", "fraud_batches_total", "fraud_feature_store_errors_total",
        "fraud_feature_store_requests_total", "fraud_degraded_verdicts_total", "fraud_batches_in_flight",
        "fraud_feature_store_round_trips_total", "fraud_feature_keys_total", "fraud_feature_cache_bytes",
        "fraud_distinct_overflows_total", "fraud_feature_state_resets_total"}) {
    EXPECT_TRUE(has(name)) << name;
  }
  EXPECT_EQ(pipeline.reviewed, 2u);
  // Every family has help text (Prometheus shows it; promtool lints it).
  for (const auto& f : families) EXPECT_FALSE(f.help.empty()) << f.name;
}

}  // namespace
}  // namespace fraud

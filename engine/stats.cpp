#include "engine/stats.h"

#include <prometheus/metric_family.h>

namespace fraud {

void StatsCollector::operator()(const StatInfo& info, std::uint64_t value) {
  if (info.metric.empty()) return;
  prometheus::MetricFamily* family = nullptr;
  for (auto& f : out_) {
    if (f.name == info.metric) family = &f;
  }
  if (!family) {
    family = &out_.emplace_back();
    family->name = std::string(info.metric);
    family->help = std::string(info.help);
    family->type = info.kind == StatKind::kCounter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
  }
  prometheus::ClientMetric& m = family->metric.emplace_back();
  if (auto eq = info.label.find('='); eq != std::string_view::npos) {
    m.label.push_back({std::string(info.label.substr(0, eq)), std::string(info.label.substr(eq + 1))});
  }
  if (info.kind == StatKind::kCounter) {
    m.counter.value = static_cast<double>(value);
  } else {
    m.gauge.value = static_cast<double>(value);
  }
}

}  // namespace fraud

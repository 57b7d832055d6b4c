// Stats declared once (Envoy's stats macros, Redpanda's probes).
//
// A component lists its stats in one X-macro, one line each:
//
//   #define FRAUD_FOO_STATS(X)  (each line but the last ends in a backslash)
//     X(requests, kCounter, "fraud_foo_requests_total", "", "Requests sent")
//     X(ok, kCounter, "fraud_foo_results_total", "result=ok", "Results")
//     X(failed, kCounter, "fraud_foo_results_total", "result=failed", "")
//     X(queued, kGauge, "fraud_foo_queued", "", "Requests waiting")
//   FRAUD_STATS_STRUCT(FooStats, FRAUD_FOO_STATS)
//
// and gets, from that list alone: a struct with one relaxed atomic per line
// (the component bumps `stats.requests.add()` on its hot path: one
// uncontended atomic add, no lock, no map), the Prometheus series (read at
// scrape time by `collect_stats`, so nothing is copied per batch), and the
// `/stats` JSON fields (`append_stats_json_of`). Lines sharing a metric name are
// one family with one label each; the family's help is its first line's.
// A metric name of "" means a /stats field only.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
struct MetricFamily;
}

namespace fraud {

// One stat: a counter (add) or a gauge (add/sub/set). Reads are relaxed: a
// scrape sees each value as of some recent moment, not a consistent cut.
class Stat {
 public:
  void add(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::uint64_t n = 1) { v_.fetch_sub(n, std::memory_order_relaxed); }
  void set(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t load() const { return v_.load(std::memory_order_relaxed); }
  operator std::uint64_t() const { return load(); }  // NOLINT: reads like the number it counts

 private:
  std::atomic<std::uint64_t> v_{0};
};

enum class StatKind { kCounter, kGauge };

struct StatInfo {
  std::string_view field;  // the struct member and the /stats key
  StatKind kind;
  std::string_view metric;  // Prometheus name ("" : /stats only)
  std::string_view label;   // "name=value" or ""
  std::string_view help;
};

#define FRAUD_STAT_MEMBER(field, kind, metric, label, help) ::fraud::Stat field;
#define FRAUD_STAT_VISIT(field, kind, metric, label, help) \
  f(::fraud::StatInfo{#field, ::fraud::StatKind::kind, metric, label, help}, field.load());

// A struct of Stats from a list; for_each(f) calls f(StatInfo, value) per line, in list order.
#define FRAUD_STATS_STRUCT(Name, LIST) \
  struct Name {                        \
    LIST(FRAUD_STAT_MEMBER)            \
    template <class F>                 \
    void for_each(F&& f) const {       \
      LIST(FRAUD_STAT_VISIT)           \
    }                                  \
  };

// Turns (StatInfo, value) pairs into Prometheus families, merging lines that
// share a metric name into one family (labels kept in list order).
class StatsCollector {
 public:
  explicit StatsCollector(std::vector<prometheus::MetricFamily>& out) : out_(out) {}
  void operator()(const StatInfo& info, std::uint64_t value);

 private:
  std::vector<prometheus::MetricFamily>& out_;
};

template <class S>
void collect_stats(const S& stats, std::vector<prometheus::MetricFamily>& out) {
  StatsCollector collector(out);
  stats.for_each(collector);
}

// Appends `,"<prefix><field>":<value>` per line (a leading comma each, so it
// follows an opened object's first field).
template <class S>
void append_stats_json_of(const S& stats, std::string_view prefix, std::string& out) {
  stats.for_each([&](const StatInfo& info, std::uint64_t value) {
    out += ",\"";
    out += prefix;
    out += info.field;
    out += "\":";
    out += std::to_string(value);
  });
}

}  // namespace fraud

// bench_e2e's results: the scenario and result types, the table printed
// while it runs, the CSVs and plot in --out, and the generated regions of
// bench/RESULTS.md (the rest of that file is written by hand).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fraud::e2e {

// kFull: the shipped pack (its model included) with Redis; kFullNoModel: the
// same pack without its models file, with Redis (the model's cost).
enum class Mode { kFull, kPassthrough, kMemory, kNaive, kFullNoModel };
inline const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kFull:
      return "full";
    case Mode::kPassthrough:
      return "passthrough";
    case Mode::kMemory:
      return "memory";
    case Mode::kNaive:
      return "naive";
    case Mode::kFullNoModel:
      return "full-no-model";
  }
  return "?";
}

struct Scenario {
  std::string name;
  Mode mode = Mode::kFull;
  double hot_key_share = 0;
  int batch = 2000;
  int threads = 0;
  std::size_t events = 0;     // throughput: backlog size
  double rate = 0;            // latency/soak: events/s offered
  double seconds = 0;         // latency/soak: measured window
  std::int64_t step_ms = 50;  // mean event-time step between events
  int instances = 1;          // engines in the consumer group
  bool cluster = false;       // a 3-master Redis Cluster instead of one node
  bool exactly_once = false;  // --delivery exactly_once (real broker only)
};

struct Result {
  Scenario s;
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double round_trips_per_batch = 0;   // the engines' waits on Redis, per batch and node
  double script_calls_per_batch = 0;  // Redis's count of script calls, per batch and node
  double redis_us_per_event = 0;
  double engine_us_per_event = 0;
  double peak_rss_mb = 0;
  std::uint64_t events = 0;
  std::vector<std::pair<double, double>> rss_samples;  // (s, MB), soak only
};

std::string fmt(const char* f, double v);
void print_row(const Result& r);
// Reads the CSVs of the last run in `dir` (for --report-only).
bool load_results(const std::string& dir, std::vector<Result>& results, std::optional<Result>& soak,
                  std::string& cmdline, std::string& run_date);
std::string run_command(const std::string& cmd);

struct ReportInput {
  std::vector<Result> results;
  std::optional<Result> soak;
  std::string out_dir, results_md, cmdline, run_date;
  int repeat = 1;
};
// CSVs and the plot in out_dir; the generated regions of results_md ('' to skip).
void write_report(ReportInput in);

}  // namespace fraud::e2e

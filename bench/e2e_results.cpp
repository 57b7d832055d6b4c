#include "bench/e2e_results.h"

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>
#include "bench/redis_info.h"
#include "connectors/kafka/embedded_kafka.h"
#include "engine/latency_recorder.h"
#include "engine/synthetic_stream.h"
#include "tests/integration/kafka_helpers.h"
#include "tests/integration/redis_cluster.h"
#include "tests/integration/redis_server.h"

namespace fraud::e2e {

// ---- reporting --------------------------------------------------------------

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void print_row(const Result& r) {
  std::printf("%-22s %-11s %6d %4d %7.0f %10.0f %8.1f %8.1f %8.1f %6.2f %8.1f %8.1f %8.0f\n", r.s.name.c_str(),
              mode_name(r.s.mode), r.s.batch, r.s.threads, r.s.rate, r.events_per_s, r.p50_ms, r.p99_ms, r.p999_ms,
              r.round_trips_per_batch, r.redis_us_per_event, r.engine_us_per_event, r.peak_rss_mb);
  std::fflush(stdout);
}

const char* kHeader =
    "scenario,mode,batch,threads,offered_per_s,events_per_s,p50_ms,p99_ms,p999_ms,"
    "redis_round_trips_per_batch,redis_cpu_us_per_event,engine_cpu_us_per_event,peak_rss_mb,"
    "redis_script_calls_per_batch\n";

std::string csv_row(const Result& r) {
  std::ostringstream o;
  o << r.s.name << "," << mode_name(r.s.mode) << "," << r.s.batch << "," << r.s.threads << "," << r.s.rate
    << ","
    // Four decimals: RESULTS.md re-rendered from the CSV (--report-only)
    // rounds to the same figures as the run itself.
    << fmt("%.0f", r.events_per_s) << "," << fmt("%.4f", r.p50_ms) << "," << fmt("%.4f", r.p99_ms) << ","
    << fmt("%.4f", r.p999_ms) << "," << fmt("%.4f", r.round_trips_per_batch) << "," << fmt("%.4f", r.redis_us_per_event)
    << "," << fmt("%.4f", r.engine_us_per_event) << "," << fmt("%.4f", r.peak_rss_mb) << ","
    << fmt("%.4f", r.script_calls_per_batch) << "\n";
  return o.str();
}

Mode mode_of(const std::string& name) {
  for (Mode m : {Mode::kFull, Mode::kPassthrough, Mode::kMemory, Mode::kNaive, Mode::kFullNoModel}) {
    if (name == mode_name(m)) return m;
  }
  return Mode::kFull;
}

// Reads back what the last run wrote (e2e.csv, soak_rss.csv, command.txt:
// the command line, then the date the run ended, if recorded).
bool load_results(const std::string& dir, std::vector<Result>& results, std::optional<Result>& soak,
                  std::string& cmdline, std::string& run_date) {
  std::ifstream csv(dir + "/e2e.csv");
  std::string line;
  if (!std::getline(csv, line)) return false;  // header
  while (std::getline(csv, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() < 13) continue;
    Result r;
    r.s.name = f[0];
    r.s.mode = mode_of(f[1]);
    r.s.batch = std::stoi(f[2]);
    r.s.threads = std::stoi(f[3]);
    r.s.rate = std::stod(f[4]);
    r.events_per_s = std::stod(f[5]);
    r.p50_ms = std::stod(f[6]);
    r.p99_ms = std::stod(f[7]);
    r.p999_ms = std::stod(f[8]);
    r.round_trips_per_batch = std::stod(f[9]);
    r.redis_us_per_event = std::stod(f[10]);
    r.engine_us_per_event = std::stod(f[11]);
    r.peak_rss_mb = std::stod(f[12]);
    if (f.size() > 13) r.script_calls_per_batch = std::stod(f[13]);
    if (r.s.name == "soak") {
      std::ifstream rss(dir + "/soak_rss.csv");
      std::getline(rss, line);
      while (std::getline(rss, line)) {
        auto comma = line.find(',');
        if (comma != std::string::npos)
          r.rss_samples.emplace_back(std::stod(line.substr(0, comma)), std::stod(line.substr(comma + 1)));
      }
      if (!r.rss_samples.empty()) r.s.seconds = r.rss_samples.back().first;
      soak = r;
    } else {
      results.push_back(r);
    }
  }
  std::ifstream cmd(dir + "/command.txt");
  if (std::getline(cmd, line) && !line.empty()) cmdline = line;
  if (std::getline(cmd, line) && !line.empty()) run_date = line;
  return !results.empty();
}

std::string run_command(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  ::pclose(f);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Replaces, in the Markdown file at `path`, the text between each
// `<!-- bench_e2e:NAME -->` and `<!-- /bench_e2e:NAME -->` with regions[NAME];
// everything else in the file is left as written. False if a marker is missing.
bool replace_generated_regions(const std::string& path, const std::map<std::string, std::string>& regions) {
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  for (const auto& [name, text] : regions) {
    const std::string open = "<!-- bench_e2e:" + name + " -->\n", close = "<!-- /bench_e2e:" + name + " -->";
    auto a = doc.find(open), b = doc.find(close);
    if (a == std::string::npos || b == std::string::npos || b < a) return false;
    doc.replace(a + open.size(), b - a - open.size(), text);
  }
  std::ofstream(path) << doc;
  return true;
}

void write_report(ReportInput in) {
  auto& results = in.results;
  auto& soak = in.soak;
  const std::string& out_dir = in.out_dir;
  const std::string& results_md = in.results_md;
  const std::string& cmdline = in.cmdline;
  std::string& run_date = in.run_date;
  const int repeat = in.repeat;
  if (run_date.empty()) {  // a run that just ended: record when, for --report-only
    char date[32];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    run_date = date;
    std::ofstream(out_dir + "/command.txt") << cmdline << "\n" << run_date << "\n";
  }
  std::ofstream(out_dir + "/e2e.csv") << kHeader << [&] {
    std::string all;
    for (const auto& r : results) all += csv_row(r);
    if (soak) all += csv_row(*soak);
    return all;
  }();
  if (soak) {
    std::ofstream rss(out_dir + "/soak_rss.csv");
    rss << "seconds,rss_mb\n";
    for (auto [t, mb] : soak->rss_samples) rss << fmt("%.0f", t) << "," << fmt("%.1f", mb) << "\n";
  }

  auto find = [&](const std::string& name) -> const Result* {
    for (const auto& r : results) {
      if (r.s.name == name) return &r;
    }
    return nullptr;
  };

  // The plot: latency against offered load; throughput against batch size
  // and thread count.
  {
    std::ofstream lat(out_dir + "/latency_curve.dat");
    for (const auto& r : results) {
      if (r.s.rate > 0 && r.s.name.rfind("rate-", 0) == 0)
        lat << r.s.rate << " " << r.events_per_s << " " << r.p50_ms << " " << r.p99_ms << " " << r.p999_ms << "\n";
    }
    std::ofstream bat(out_dir + "/batch_curve.dat");
    for (int b : {250, 500, 1000, 2000, 4000}) {
      const Result* r = find(b == 2000 ? "full" : "batch-" + std::to_string(b));
      if (r) bat << b << " " << r->events_per_s << "\n";
    }
    std::ofstream thr(out_dir + "/threads_curve.dat");
    for (int t : {1, 2, 4}) {
      const Result* r = find(t == 2 ? "full" : "threads-" + std::to_string(t));
      if (r) thr << t << " " << r->events_per_s << "\n";
    }
    std::ofstream scale(out_dir + "/scale_curve.dat");
    for (int i : {1, 2, 3}) {
      const Result* one = find(i == 1 ? "full" : "scale-" + std::to_string(i) + "x1");
      const Result* clu = find(i == 1 ? "cluster-1x2" : "cluster-" + std::to_string(i) + "x1");
      if (one && clu) scale << i << " " << one->events_per_s << " " << clu->events_per_s << "\n";
    }
    std::ofstream gp(out_dir + "/e2e.gnuplot");
    gp << "set terminal pngcairo size 1400,900 font ',10'\nset output '" << out_dir << "/e2e.png'\n"
       << "set multiplot layout 2,2\nset grid\nset key top left\n"
       << "set title 'End-to-end latency vs offered load'\nset xlabel 'offered events/s'\nset ylabel 'ms'\nset "
          "logscale y\n"
       << "plot '" << out_dir
       << "/latency_curve.dat' u 1:3 w lp t 'p50', '' u 1:4 w lp t 'p99', '' u 1:5 w lp t 'p99.9', 25 w l dt 2 t '25 "
          "ms target'\n"
       << "unset logscale y\nset yrange [0:*]\n"
       << "set title 'Throughput vs batch size (backlog drain)'\nset xlabel 'batch size'\nset ylabel 'events/s'\nset "
          "logscale x 2\n"
       << "plot '" << out_dir << "/batch_curve.dat' u 1:2 w lp t 'shipped pack + Redis'\nunset logscale x\n"
       << "set title 'Throughput vs pipeline threads'\nset xlabel 'threads'\nset xtics 1\n"
       << "plot '" << out_dir << "/threads_curve.dat' u 1:2 w lp t 'shipped pack + Redis'\n"
       << "set title 'Scale-out on this box: engines in one group'\nset xlabel 'engine instances'\n"
       << "plot '" << out_dir
       << "/scale_curve.dat' u 1:2 w lp t 'one Redis node', '' u 1:3 w lp t '3-master Redis Cluster'\n"
       << "unset multiplot\n";
  }
  std::string plot_status = run_command("gnuplot '" + out_dir + "/e2e.gnuplot' 2>&1");
  if (!plot_status.empty()) std::fprintf(stderr, "gnuplot: %s\n", plot_status.c_str());

  if (!results_md.empty()) {
    // RESULTS.md is written by hand; only its generated regions are replaced.
    const Result* full = find("full");
    const Result* pass = find("passthrough");
    const Result* naive = find("naive");
    const Result* hot = find("hot-key");
    const Result* at20k = find("rate-20000");
    std::map<std::string, std::string> regions;
    std::ostringstream md;
    md << "Written by `bench/bench_e2e.cpp` at the end of its last full run (" << run_date << "), on "
       << run_command("nproc") << " cores, "
       << run_command("awk '/MemTotal/{printf \"%.0f GiB\", $2/1048576}' /proc/meminfo") << ", `"
       << run_command("uname -sr") << "`; engine, embedded Kafka (in the bench process), redis-server "
       << "and the load generator all share this box.\n\nCommand: `" << cmdline << "`\n";
    regions["run"] = md.str();
    md.str("");
    auto ok = [](bool met) { return met ? "met" : "**not met**"; };
    md << "| target | measured | |\n|---|---|---|\n";
    if (full)
      md << "| >= 100,000 events/s end to end, shipped pack | " << fmt("%.0f", full->events_per_s) << " events/s | "
         << ok(full->events_per_s >= 100'000) << " |\n";
    const Result* floor20k = find("passthrough-at-20000");
    if (at20k)
      md << "| p99 < 25 ms at 20,000 events/s offered | p99 " << fmt("%.1f", at20k->p99_ms) << " ms (p50 "
         << fmt("%.1f", at20k->p50_ms) << ", p99.9 " << fmt("%.1f", at20k->p999_ms) << ")"
         << (floor20k ? "; passthrough at the same rate: p99 " + fmt("%.1f", floor20k->p99_ms) + " ms (p50 " +
                            fmt("%.1f", floor20k->p50_ms) + ")"
                      : std::string())
         << " | " << ok(at20k->p99_ms < 25) << " |\n";
    if (const Result* no_model = find("full-no-model"); full && no_model)
      md << "| model: >= 0.85 of the same pack without it | " << fmt("%.0f", full->events_per_s) << " / "
         << fmt("%.0f", no_model->events_per_s) << " = " << fmt("%.2f", full->events_per_s / no_model->events_per_s)
         << " (engine " << fmt("%.2f", full->engine_us_per_event) << " vs "
         << fmt("%.2f", no_model->engine_us_per_event) << " us/event) | "
         << ok(full->events_per_s >= 0.85 * no_model->events_per_s) << " |\n";
    if (full && pass)
      md << "| >= 0.35 of passthrough | " << fmt("%.0f", full->events_per_s) << " / " << fmt("%.0f", pass->events_per_s)
         << " = " << fmt("%.2f", full->events_per_s / pass->events_per_s) << " | "
         << ok(full->events_per_s >= 0.35 * pass->events_per_s) << " |\n";
    if (full && naive)
      md << "| >= 10x naive | " << fmt("%.0f", full->events_per_s) << " / " << fmt("%.0f", naive->events_per_s) << " = "
         << fmt("%.1f", full->events_per_s / naive->events_per_s) << "x | "
         << ok(full->events_per_s >= 10 * naive->events_per_s) << " |\n";
    if (full)
      md << "| <= 1 Redis round trip per batch per node | " << fmt("%.2f", full->round_trips_per_batch)
         << " (script calls in it: " << fmt("%.1f", full->script_calls_per_batch) << ") | "
         << ok(full->round_trips_per_batch <= 1.0001) << " |\n";
    if (full)
      md << "| Redis CPU <= 5 us per event | " << fmt("%.1f", full->redis_us_per_event) << " us | "
         << ok(full->redis_us_per_event <= 5) << " |\n";
    if (full && hot)
      md << "| hot-key attack >= 0.5 of uniform | " << fmt("%.0f", hot->events_per_s) << " / "
         << fmt("%.0f", full->events_per_s) << " = " << fmt("%.2f", hot->events_per_s / full->events_per_s) << " | "
         << ok(hot->events_per_s >= 0.5 * full->events_per_s) << " |\n";
    if (soak && soak->rss_samples.size() > 4) {
      // Bounded: after the first half (buffers and caches filled), RSS may
      // not grow by more than 5% to the end.
      const auto& rss = soak->rss_samples;
      double early = rss[3].second, mid = rss[rss.size() / 2].second, last = rss.back().second;
      md << "| RSS bounded, no growth over the soak | " << fmt("%.0f", early) << " MB at " << fmt("%.0f", rss[3].first)
         << " s, " << fmt("%.1f", mid) << " MB at " << fmt("%.0f", rss[rss.size() / 2].first) << " s, "
         << fmt("%.1f", last) << " MB at " << fmt("%.0f", rss.back().first) << " s (peak "
         << fmt("%.0f", soak->peak_rss_mb) << " MB; " << fmt("%.0f", soak->events_per_s) << " events/s of "
         << fmt("%.0f", soak->s.rate) << " offered, p99 " << fmt("%.0f", soak->p99_ms) << " ms) | "
         << ok(last <= mid * 1.05) << " |\n";
    }
    regions["targets"] = md.str();
    md.str("");
    if (repeat > 1) {
      md << "Each row (not the soak) is the median of " << repeat
         << " runs of its scenario: by events/s for backlog rows, by p99 for fixed rates.\n\n";
    }
    md << "| scenario | mode | batch | threads | offered/s | events/s | p50 ms | p99 ms | p99.9 ms | RT/b | calls/b | "
          "redis us | engine us | RSS MB |\n"
       << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    auto row = [&](const Result& r) {
      md << "| " << r.s.name << " | " << mode_name(r.s.mode) << " | " << r.s.batch << " | "
         << (r.s.threads ? std::to_string(r.s.threads) : "auto") << " | "
         << (r.s.rate > 0 ? fmt("%.0f", r.s.rate) : "backlog") << " | " << fmt("%.0f", r.events_per_s) << " | "
         << fmt("%.1f", r.p50_ms) << " | " << fmt("%.1f", r.p99_ms) << " | " << fmt("%.1f", r.p999_ms) << " | "
         << fmt("%.2f", r.round_trips_per_batch) << " | " << fmt("%.1f", r.script_calls_per_batch) << " | "
         << fmt("%.1f", r.redis_us_per_event) << " | " << fmt("%.1f", r.engine_us_per_event) << " | "
         << fmt("%.0f", r.peak_rss_mb) << " |\n";
    };
    for (const auto& r : results) row(r);
    if (soak) row(*soak);
    md << "\n![latency and throughput curves](results/e2e.png)\n\nData: [results/e2e.csv](results/e2e.csv)"
       << (soak ? ", [results/soak_rss.csv](results/soak_rss.csv)" : "") << ".\n";
    regions["scenarios"] = md.str();
    if (!replace_generated_regions(results_md, regions)) {
      std::fprintf(stderr, "could not update %s (markers missing?)\n", results_md.c_str());
    }
  }
}

}  // namespace fraud::e2e

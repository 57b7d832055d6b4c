// The `fraudstream` command line: wires the engine library to its
// connectors. Each subcommand lives in its own function below.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/cli/replay.h"
#include "engine/cli/rule_tests.h"
#include "engine/pack_loader.h"

namespace fs = std::filesystem;
using namespace fraud;

namespace {

int cmd_check(const std::string& dir, const std::string& format) {
  PackLoadResult pack = load_pack_directory(dir);
  if (format == "json") {
    std::cout << pack.diagnostics.to_json();
  } else {
    if (pack.ok()) {
      std::cout << "ok: " << pack.rules->rules.size() << " rules, " << pack.rules->features.size()
                << " features, " << pack.rules->list_names.size() << " lists; version "
                << pack.rules->version.substr(0, 12) << "\n";
    }
    std::cout << pack.diagnostics.to_text();
  }
  return pack.ok() ? 0 : 1;
}

int cmd_test(const std::string& dir) {
  PackLoadResult pack = load_pack_directory(dir);
  if (!pack.ok()) {
    std::cerr << pack.diagnostics.to_text();
    return 1;
  }
  RuleTestReport report = run_rule_tests(*pack.rules, fs::path(dir) / "tests");
  std::cout << report.output;
  std::cout << report.passed << " passed, " << report.failed << " failed";
  if (report.errors) std::cout << ", " << report.errors << " errors";
  std::cout << "\n";
  return report.failed == 0 && report.errors == 0 ? 0 : 1;
}

int cmd_replay(const std::string& rules_dir, const std::string& events_path, const std::string& out_path,
               std::size_t batch) {
  PackLoadResult pack = load_pack_directory(rules_dir);
  if (!pack.ok()) {
    std::cerr << pack.diagnostics.to_text();
    return 1;
  }
  std::ifstream in(events_path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot open events file " << events_path << "\n";
    return 1;
  }
  std::ofstream out_file;
  std::ostream* out = &std::cout;
  if (!out_path.empty()) {
    out_file.open(out_path, std::ios::binary | std::ios::trunc);
    if (!out_file) {
      std::cerr << "cannot write " << out_path << "\n";
      return 1;
    }
    out = &out_file;
  }
  MemoryFeatureStore store;
  ReplayOptions options;
  options.batch_size = batch;
  options.source_name = fs::path(events_path).filename().string();
  ReplayStats stats = replay_events(*pack.rules, store, in, out, std::cerr, options);
  out->flush();
  std::ostream& table = out_path.empty() ? std::cerr : std::cout;
  table << format_replay_table(*pack.rules, stats);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fraudstream: real-time fraud engine for lending platforms"};
  app.require_subcommand(1);

  std::string dir, format = "text";
  auto* check = app.add_subcommand("check", "Validate a rule pack; every error with file:line:col");
  check->add_option("dir", dir, "Rule pack directory")->required();
  check->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  std::string test_dir;
  auto* test = app.add_subcommand("test", "Run the pack's tests/*.yaml cases");
  test->add_option("dir", test_dir, "Rule pack directory")->required();

  std::string rules_dir, events, out;
  std::size_t batch = 4096;
  auto* replay = app.add_subcommand("replay", "Evaluate a JSONL file of events offline, in order");
  replay->add_option("--rules", rules_dir, "Rule pack directory")->required();
  replay->add_option("--events", events, "Events, one JSON object per line")->required();
  replay->add_option("--out", out, "Verdicts file (JSON lines); default stdout");
  replay->add_option("--batch", batch, "Events per feature-store batch")->check(CLI::Range(1, 1 << 20));

  CLI11_PARSE(app, argc, argv);
  if (*check) return cmd_check(dir, format);
  if (*test) return cmd_test(test_dir);
  if (*replay) return cmd_replay(rules_dir, events, out, batch);
  return 2;
}

// The `fraudstream` command line: wires the engine library to its
// connectors. Each subcommand lives in its own function below.
#include <CLI/CLI.hpp>
#include <charconv>
#include <csignal>

#include <spdlog/spdlog.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "connectors/memory/memory_feature_store.h"
#include "connectors/redis/redis_feature_store.h"
#include "engine/cli/backtest_report.h"
#include "engine/cli/huge_pages.h"
#include "engine/cli/paysim.h"
#include "engine/cli/replay.h"
#include "engine/cli/rule_tests.h"
#include "engine/cli/stream_commands.h"
#include "engine/cli/train.h"
#include "engine/cli/verdict_diff.h"
#include "engine/pack_loader.h"
#include "engine/synthetic_stream.h"
#include "engine/time_text.h"

namespace fs = std::filesystem;
using namespace fraud;

namespace {

int cmd_check(const std::string& dir, const std::string& format) {
  PackLoadResult pack = load_pack_directory(dir);
  if (format == "json") {
    std::cout << pack.diagnostics.to_json();
  } else {
    if (pack.ok()) {
      std::cout << "ok: " << pack.rules->rules.size() << " rules, " << pack.rules->features.size() << " features, "
                << pack.rules->list_names.size() << " lists; version " << pack.rules->version.substr(0, 12) << "\n";
      // Memory per key: what an SRE sizes Redis with.
      for (const auto& f : pack.rules->features) {
        std::cout << "  feature " << f.name << ": " << f.buckets() << " buckets per window, at most "
                  << f.kept_buckets() << " kept per key (window + max_lateness)";
        if (f.agg == Aggregation::kDistinct) {
          std::cout << " (distinct: up to " << f.max_values << " values, each with the buckets it was seen in)";
        }
        std::cout << "\n";
      }
      for (const auto& m : pack.rules->models) {
        std::cout << "  model " << m.name << ": " << m.file << ", " << m.trees->num_trees() << " trees (depth up to "
                  << m.trees->max_depth() << "), " << m.inputs.size() << " inputs, " << m.trees->objective();
        if (m.explain > 0)
          std::cout << "; explains " << m.explain << " (" << (m.explain_shap ? "shap" : "approx") << ")";
        std::cout << "\n";
      }
      if (!pack.rules->models.empty()) {
        std::cout << "  model objectives supported:";
        for (auto o : TreeEnsemble::kObjectives) std::cout << " " << o;
        std::cout << "\n";
      }
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
               std::size_t batch, const std::string& label, const std::string& report, const std::string& record_time) {
  PackLoadOptions load_options;
  if (!label.empty()) load_options.extra_fields.push_back(label);
  if (!record_time.empty()) load_options.extra_fields.push_back(record_time);
  PackLoadResult pack = load_pack_directory(rules_dir, load_options);
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
  if (!label.empty()) options.label_slot = pack.rules->fields.find(label);
  if (!record_time.empty()) options.record_time_slot = pack.rules->fields.find(record_time);
  ReplayStats stats = replay_events(*pack.rules, store, in, out, std::cerr, options);
  out->flush();
  std::ostream& table = out_path.empty() ? std::cerr : std::cout;
  table << format_replay_table(*pack.rules, stats);
  if (!report.empty()) {
    std::ofstream html(report, std::ios::binary | std::ios::trunc);
    html << backtest_html(*pack.rules, stats, "Backtest of " + rules_dir + " on " + options.source_name);
    if (!html) {
      std::cerr << "cannot write " << report << "\n";
      return 1;
    }
    table << "report: " << report << "\n";
  }
  return 0;
}

int cmd_diff(const std::string& base_dir, const std::string& cand_dir, const std::string& events_path,
             const std::string& format) {
  PackLoadResult base = load_pack_directory(base_dir);
  PackLoadResult cand = load_pack_directory(cand_dir);
  if (!base.ok() || !cand.ok()) {
    if (!base.ok()) std::cerr << "base pack " << base_dir << ":\n" << base.diagnostics.to_text();
    if (!cand.ok()) std::cerr << "candidate pack " << cand_dir << ":\n" << cand.diagnostics.to_text();
    return 1;
  }
  std::ifstream in(events_path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot open events file " << events_path << "\n";
    return 1;
  }
  DiffResult d = diff_verdicts(*base.rules, *cand.rules, in, std::cerr);
  std::cout << (format == "json" ? format_diff_json(d) : format_diff_text(d));
  return 0;
}

int cmd_paysim(const std::string& csv) {
  std::ifstream in(csv, std::ios::binary);
  if (!in) {
    std::cerr << "cannot open " << csv << "\n";
    return 1;
  }
  std::string line, err;
  std::getline(in, line);  // header
  if (line.rfind("step,type,amount", 0) != 0) {
    std::cerr << csv << ":1: not a PaySim file (expected the header step,type,amount,...)\n";
    return 1;
  }
  std::uint64_t row = 0, bad = 0;
  while (std::getline(in, line)) {
    ++row;
    if (line.empty()) continue;
    auto json = paysim_row_to_event(line, row, err);
    if (!json) {
      std::cerr << csv << ":" << row + 1 << ": " << err << "\n";
      ++bad;
      continue;
    }
    std::cout << *json << "\n";
  }
  return bad ? 1 : 0;
}

// One event per line; `keyed`: its Kafka key (the customer id) and a tab
// first, for `kcat -P -K '\t'`.
int cmd_generate(std::uint64_t count, const SyntheticOptions& options, bool keyed) {
  SyntheticStream stream(options);
  std::string buf;
  std::string event;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (keyed) {
      event.clear();
      buf += stream.next(event);
      buf.push_back('\t');
      buf += event;
    } else {
      stream.next(buf);
    }
    buf.push_back('\n');
    if (buf.size() > (1 << 16)) {
      std::cout.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  std::cout.write(buf.data(), static_cast<std::streamsize>(buf.size()));
  return std::cout.good() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Every write to a peer that went away (HTTP clients, Redis, brokers) must
  // be an error value, never a signal that kills the process, in every mode.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"fraudstream: real-time fraud engine for lending platforms"};
  app.require_subcommand(1);

  std::string dir, format = "text";
  auto* check = app.add_subcommand("check", "Validate a rule pack; every error with file:line:col");
  check->add_option("dir", dir, "Rule pack directory")->required();
  check->add_option("--format", format, "text or json")->check(CLI::IsMember({"text", "json"}));

  std::string test_dir;
  auto* test = app.add_subcommand("test", "Run the pack's tests/*.yaml cases");
  test->add_option("dir", test_dir, "Rule pack directory")->required();

  std::string rules_dir, events, out, label, report, record_time;
  std::size_t batch = 4096;
  auto* replay = app.add_subcommand("replay", "Evaluate a JSONL file of events offline, in order");
  replay->add_option("--rules", rules_dir, "Rule pack directory")->required();
  replay->add_option("--events", events, "Events, one JSON object per line")->required();
  replay->add_option("--out", out, "Verdicts file (JSON lines); default stdout");
  replay->add_option("--batch", batch, "Events per feature-store batch")->check(CLI::Range(1, 1 << 20));
  replay->add_option("--label", label, "Backtest: field holding the ground truth (0/1 or true/false)");
  replay->add_option("--record-time", record_time,
                     "Field with each event's record time (ms or RFC 3339): ts more than settings.max_future "
                     "ahead of it is clamped, as live with the Kafka record timestamp");
  auto* report_opt = replay->add_option("--report", report, "Backtest: write a self-contained HTML page");
  report_opt->needs(replay->get_option("--label"));

  std::string diff_base, diff_cand, diff_events, diff_format = "text";
  auto* diff = app.add_subcommand("diff", "Replay two packs over the same events and compare their decisions");
  diff->add_option("--base", diff_base, "The pack running today")->required();
  diff->add_option("--candidate", diff_cand, "The pack you want to ship")->required();
  diff->add_option("--events", diff_events, "Events, one JSON object per line")->required();
  diff->add_option("--format", diff_format, "text or json")->check(CLI::IsMember({"text", "json"}));

  std::string train_rules, train_events, train_out, train_validate, train_label_time;
  TrainOptions train_opts;
  auto* train = app.add_subcommand("train", "Train a model of the pack on its own point-in-time features (XGBoost)");
  train->add_option("--rules", train_rules, "Rule pack directory (declares the model)")->required();
  train->add_option("--model", train_opts.model, "Name of the model in the pack")->required();
  train->add_option("--events", train_events, "Labelled events, one JSON object per line, in order")->required();
  train->add_option("--label", train_opts.label, "Field holding the ground truth (0/1 or true/false)")->required();
  train->add_option("--out", train_out, "Model file to write (XGBoost JSON); a .training.json sidecar beside it")
      ->required();
  train->add_option("--validate-from", train_validate,
                    "Event time where validation starts (ms since the epoch or RFC 3339); default: the last 20%");
  train->add_option("--label-time", train_label_time,
                    "Field: when the label became known; events labelled after the cut-off do not train");
  train->add_option("--rounds", train_opts.params.rounds, "Boosting rounds (trees)")->check(CLI::Range(1, 100000));
  train->add_option("--max-depth", train_opts.params.max_depth, "Tree depth")->check(CLI::Range(1, 64));
  train->add_option("--learning-rate", train_opts.params.learning_rate, "Shrinkage (eta)")
      ->check(CLI::Range(0.0001, 1.0));

  std::string paysim_csv;
  auto* paysim = app.add_subcommand("paysim-to-jsonl", "Convert a PaySim CSV to fraudstream events (stdout)");
  paysim->add_option("csv", paysim_csv, "PaySim CSV file")->required();

  std::uint64_t gen_count = 100000;
  SyntheticOptions gen;
  auto* generate = app.add_subcommand("generate", "Print a synthetic micro-lending event stream (JSON lines)");
  generate->add_option("--events", gen_count, "Number of events");
  generate->add_option("--seed", gen.seed, "Random seed");
  generate->add_option("--fraud-share", gen.fraud_share, "Share of events from fraud patterns")
      ->check(CLI::Range(0.0, 1.0));
  generate->add_option("--hot-key-share", gen.hot_key_share, "Share of events on one device and ID number")
      ->check(CLI::Range(0.0, 1.0));
  generate->add_option("--step-ms", gen.step_ms, "Mean event-time step between events");
  generate->add_option("--customers", gen.customers, "Size of the customer population");
  bool gen_keyed = false;
  generate->add_flag("--keyed", gen_keyed,
                     "Start each line with the event's Kafka key (its customer id) and a tab: kcat -P -K '\\t'");

  int brokers = 1;
  std::vector<std::string> topics;
  auto* kafka = app.add_subcommand("kafka", "Run the embedded Kafka cluster; prints its bootstrap address first");
  kafka->add_option("--brokers", brokers, "Number of brokers")->check(CLI::Range(1, 9));
  kafka->add_option("--topic", topics, "NAME:PARTITIONS (repeatable); other topics are auto-created");

  std::string config_file;
  std::map<std::string, std::string> flags;
  auto* run = app.add_subcommand("run", "Run the engine: Kafka in, features, verdicts out");
  run->add_option("--config", config_file, "YAML config file (keys overridable by FRAUDSTREAM_* env vars)");
  for (auto [flag, key] :
       std::vector<std::pair<const char*, const char*>>{{"--rules", "rules"},
                                                        {"--kafka", "kafka.bootstrap"},
                                                        {"--redis", "redis.url"},
                                                        {"--input-topic", "kafka.input_topic"},
                                                        {"--output-topic", "kafka.output_topic"},
                                                        {"--dlq-topic", "kafka.dlq_topic"},
                                                        {"--group", "kafka.group"},
                                                        {"--metrics-port", "metrics.port"},
                                                        {"--batch-size", "pipeline.batch_size"},
                                                        {"--max-in-flight", "pipeline.max_in_flight"},
                                                        {"--failure-policy", "redis.failure_policy"},
                                                        {"--threads", "pipeline.threads"},
                                                        {"--redis-calls", "redis.calls"},
                                                        {"--redis-wait-replicas", "redis.wait_replicas"},
                                                        {"--redis-cache-keys", "redis.cache_keys"},
                                                        {"--redis-cache-mb", "redis.cache_mb"},
                                                        {"--delivery", "kafka.delivery"},
                                                        {"--transactional-id", "kafka.transactional_id"},
                                                        {"--transaction-ms", "kafka.transaction_ms"}}) {
    run->add_option_function<std::string>(
        flag, [&flags, key = std::string(key)](const std::string& v) { flags[key] = v; },
        std::string("overrides ") + key);
  }

  DemoOptions demo_opts;
  auto* demo = app.add_subcommand("demo", "Embedded Kafka + shipped pack + synthetic lending stream, live summary");
  demo->add_option("--rules", demo_opts.rules_dir, "Rule pack directory");
  demo->add_option("--redis", demo_opts.redis_url, "redis://host:port, or memory");
  demo->add_option("--rate", demo_opts.rate, "Events/s offered (0: flat out)");
  demo->add_option("--duration", demo_opts.duration_s, "Seconds to run (0: until Ctrl-C)");
  demo->add_option("--partitions", demo_opts.partitions, "Partitions of the input topic");
  demo->add_option("--metrics-port", demo_opts.metrics_port, "Port of /metrics (0: off)");

  CLI11_PARSE(app, argc, argv);
  // One-shot evaluations build millions of states in one go; the long-running
  // engine (run, demo) keeps the default heap (see huge_pages.h).
  if (*replay || *diff) fraud::use_huge_page_heap(argv);
  try {
    if (*kafka) return cmd_kafka(brokers, topics);
    if (*demo) return cmd_demo(demo_opts);
    if (*run) {
      auto env = process_environment();
      // Flags win over env and file: pass them as the highest layer.
      for (const auto& [key, value] : flags) env[config_env_name(key)] = value;
      if (auto url = flags.find("redis.url"); url != flags.end() && redact_redis_url(url->second) != url->second) {
        spdlog::warn(
            "--redis carries a password, which any user of this machine can read in the process list: "
            "use redis.password_file or FRAUDSTREAM_REDIS_PASSWORD");
      }
      return cmd_run(load_run_config(config_file, env));
    }
  } catch (const std::exception& e) {
    std::cerr << "fraudstream: " << e.what() << "\n";
    return 2;
  }
  if (*generate) return cmd_generate(gen_count, gen, gen_keyed);
  if (*check) return cmd_check(dir, format);
  if (*test) return cmd_test(test_dir);
  if (*paysim) return cmd_paysim(paysim_csv);
  if (*train) {
    if (!train_validate.empty()) {
      std::int64_t ms = 0;
      auto [end, ec] = std::from_chars(train_validate.data(), train_validate.data() + train_validate.size(), ms);
      if (ec == std::errc() && end == train_validate.data() + train_validate.size()) {
        train_opts.validate_from_ms = ms;
      } else if (auto t = parse_rfc3339_ms(train_validate)) {
        train_opts.validate_from_ms = *t;
      } else {
        std::cerr << "--validate-from: not milliseconds since the epoch nor RFC 3339: " << train_validate << "\n";
        return 2;
      }
    }
    if (!train_label_time.empty()) train_opts.label_time = train_label_time;
    return train_model(train_rules, train_events, train_out, train_opts, std::cout, std::cerr);
  }
  if (*diff) return cmd_diff(diff_base, diff_cand, diff_events, diff_format);
  if (*replay) return cmd_replay(rules_dir, events, out, batch, label, report, record_time);
  return 2;
}

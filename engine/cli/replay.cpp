#include "engine/cli/replay.h"

#include <chrono>
#include <cstdio>
#include <istream>
#include <ostream>
#include <set>

#include "engine/pipeline/line_source.h"
#include "engine/pipeline/local_run.h"

namespace fraud {

std::optional<bool> label_of(const Value& v) {
  switch (v.kind) {
    case ValueKind::kBool:
      return v.boolean;
    case ValueKind::kNumber:
      if (v.number == 1) return true;
      if (v.number == 0) return false;
      return std::nullopt;
    case ValueKind::kString:
      if (v.text == "1" || v.text == "true" || v.text == "1.0") return true;
      if (v.text == "0" || v.text == "false" || v.text == "0.0") return false;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

namespace {

void account_label(ReplayStats& s, const RuleSet& rules, const Event& e, const Verdict& v, const ReplayOptions& o) {
  std::int64_t bucket = e.ts_ms - ((e.ts_ms % o.timeline_bucket_ms) + o.timeline_bucket_ms) % o.timeline_bucket_ms;
  auto& line = s.timeline[bucket];
  if (line.empty()) line.assign(rules.rules.size(), 0);
  for (std::size_t h = 0; h < v.hit_count; ++h) ++line[v.hits[h].rule];
  for (std::size_t h = 0; h < v.shadow_count; ++h) ++line[v.shadow_hits[h].rule];
  auto label = label_of(e.field(*o.label_slot));
  if (!label) return;
  ++s.labelled;
  if (*label) ++s.positives;
  auto count = [&](std::uint32_t r) {
    ++s.rule_labelled_hits[r];
    if (*label) ++s.rule_true_hits[r];
  };
  for (std::size_t h = 0; h < v.hit_count; ++h) count(v.hits[h].rule);
  for (std::size_t h = 0; h < v.shadow_count; ++h) count(v.shadow_hits[h].rule);
  if (v.decision != Decision::kAllow) {
    ++s.flagged_labelled;
    if (*label) ++s.flagged_true;
  }
  if (v.decision == Decision::kDecline) {
    ++s.declined_labelled;
    if (*label) ++s.declined_true;
  }
}

}  // namespace

ReplayStats replay_events(const RuleSet& rules, FeatureStore& store, std::istream& in, std::ostream* out,
                          std::ostream& errors, const ReplayOptions& options) {
  ReplayStats stats;
  stats.rule_hits.assign(rules.rules.size(), 0);
  stats.labelled_run = options.label_slot.has_value();
  stats.rule_true_hits.assign(rules.rules.size(), 0);
  stats.rule_labelled_hits.assign(rules.rules.size(), 0);
  stats.model_scores.resize(rules.models.size());
  auto start = std::chrono::steady_clock::now();
  std::string buffer;
  auto write_out = [&] {
    if (out) out->write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    buffer.clear();
  };
  CallbackSink sink(
      [&](const VerdictOut& o) {
        const Verdict& v = o.verdict;
        ++stats.events;
        ++stats.decisions[static_cast<int>(v.decision)];
        for (std::size_t h = 0; h < v.hit_count; ++h) ++stats.rule_hits[v.hits[h].rule];
        for (std::size_t h = 0; h < v.shadow_count; ++h) ++stats.rule_hits[v.shadow_hits[h].rule];
        if (v.ts_clamped_from != INT64_MIN) ++stats.clamped;
        stats.late_ops += v.late_count;
        if (v.degraded) ++stats.degraded;
        if (stats.labelled_run) {
          account_label(stats, rules, o.event, v, options);
          if (auto label = label_of(o.event.field(*options.label_slot))) {
            for (std::size_t m = 0; m < o.models.size(); ++m) {
              if (o.models[m].is_number()) stats.model_scores[m].push_back({o.models[m].number, *label});
            }
          }
        }
        if (out) {
          buffer.append(o.json);
          buffer.push_back('\n');
          if (buffer.size() >= (1u << 20)) write_out();
        }
      },
      [&](const DeadLetterOut& d) {
        ++stats.invalid;
        ++stats.invalid_by_reason[std::string(d.reason)];
        if (stats.invalid <= options.max_reported_errors) {
          errors << "line " << d.record.offset + 1 << ": " << d.reason << ": " << d.detail << "\n";
        } else if (stats.invalid == options.max_reported_errors + 1) {
          errors << "(further invalid lines are counted, not printed)\n";
        }
      });
  LineSource source(in, options.source_name, options.max_event_bytes);
  PipelineConfig config = local_config(options.batch_size);
  config.max_event_bytes = options.max_event_bytes;
  config.record_time_field = options.record_time_slot;
  config.encode_verdicts = out != nullptr;
  // A backtest scores every event each model selects, read by a rule or
  // not, so each model's own figures cover the whole stream (same values).
  config.read_all_features = stats.labelled_run && !rules.models.empty();
  run_to_end(config, rules, source, sink, store);
  write_out();
  stats.lines = source.lines();
  if (stats.degraded > 0) {
    errors << "feature store errors: " << stats.degraded << " verdicts were evaluated without features (degraded)\n";
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

std::vector<double> model_thresholds(const RuleSet& rules, std::uint32_t model) {
  std::set<double> found;
  for (const Node& n : rules.nodes) {
    if (n.op != NodeOp::kGe && n.op != NodeOp::kGt && n.op != NodeOp::kLe && n.op != NodeOp::kLt) continue;
    const Node& a = rules.nodes[rules.args[n.args_begin]];
    const Node& b = rules.nodes[rules.args[n.args_begin + 1]];
    auto is_model = [&](const Node& x) { return x.op == NodeOp::kModel && x.index == model; };
    auto number = [](const Node& x) { return x.op == NodeOp::kConst && x.constant.is_number(); };
    if (is_model(a) && number(b)) found.insert(b.constant.number);
    if (is_model(b) && number(a)) found.insert(a.constant.number);
  }
  return {found.begin(), found.end()};
}

std::string format_replay_table(const RuleSet& rules, const ReplayStats& s) {
  std::string out;
  char buf[256];
  auto pct = [&](std::uint64_t n) {
    return s.events ? 100.0 * static_cast<double>(n) / static_cast<double>(s.events) : 0.0;
  };
  std::snprintf(buf, sizeof buf, "%-32s %12llu\n", "events", static_cast<unsigned long long>(s.events));
  out += buf;
  std::snprintf(buf, sizeof buf, "%-32s %12llu\n", "invalid lines", static_cast<unsigned long long>(s.invalid));
  out += buf;
  for (const auto& [reason, n] : s.invalid_by_reason) {
    std::snprintf(buf, sizeof buf, "  %-30s %12llu\n", reason.c_str(), static_cast<unsigned long long>(n));
    out += buf;
  }
  if (s.clamped > 0) {
    std::snprintf(buf, sizeof buf, "%-32s %12llu\n", "ts clamped (max_future)",
                  static_cast<unsigned long long>(s.clamped));
    out += buf;
  }
  if (s.degraded > 0) {
    std::snprintf(buf, sizeof buf, "%-32s %12llu\n", "degraded (store errors)",
                  static_cast<unsigned long long>(s.degraded));
    out += buf;
  }
  if (s.late_ops > 0) {
    std::snprintf(buf, sizeof buf, "%-32s %12llu\n", "too late (event x feature)",
                  static_cast<unsigned long long>(s.late_ops));
    out += buf;
  }
  for (int d = 0; d < 3; ++d) {
    std::snprintf(buf, sizeof buf, "%-32s %12llu %6.2f%%\n", decision_name(static_cast<Decision>(d)).data(),
                  static_cast<unsigned long long>(s.decisions[d]), pct(s.decisions[d]));
    out += buf;
  }
  auto ratio = [](std::uint64_t a, std::uint64_t b) {
    return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0;
  };
  if (!s.labelled_run) {
    out += "\nrule                             mode          hits      rate\n";
    for (std::size_t r = 0; r < rules.rules.size(); ++r) {
      std::snprintf(buf, sizeof buf, "%-32s %-8s %10llu %8.3f%%\n", rules.rules[r].name.c_str(),
                    rules.rules[r].shadow ? "shadow" : "enforce", static_cast<unsigned long long>(s.rule_hits[r]),
                    pct(s.rule_hits[r]));
      out += buf;
    }
  } else {
    std::snprintf(buf, sizeof buf, "%-32s %12llu\n%-32s %12llu\n", "labelled events",
                  static_cast<unsigned long long>(s.labelled), "positives (label 1)",
                  static_cast<unsigned long long>(s.positives));
    out += buf;
    out += "\nrule                             mode          hits        TP        FP precision   recall\n";
    for (std::size_t r = 0; r < rules.rules.size(); ++r) {
      std::uint64_t tp = s.rule_true_hits[r], fp = s.rule_labelled_hits[r] - tp;
      std::snprintf(buf, sizeof buf, "%-32s %-8s %10llu %9llu %9llu %9.3f %8.3f\n", rules.rules[r].name.c_str(),
                    rules.rules[r].shadow ? "shadow" : "enforce", static_cast<unsigned long long>(s.rule_hits[r]),
                    static_cast<unsigned long long>(tp), static_cast<unsigned long long>(fp),
                    ratio(tp, s.rule_labelled_hits[r]), ratio(tp, s.positives));
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "%-32s %-8s %10llu %9llu %9llu %9.3f %8.3f\n", "PACK: review or decline", "",
                  static_cast<unsigned long long>(s.decisions[1] + s.decisions[2]),
                  static_cast<unsigned long long>(s.flagged_true),
                  static_cast<unsigned long long>(s.flagged_labelled - s.flagged_true),
                  ratio(s.flagged_true, s.flagged_labelled), ratio(s.flagged_true, s.positives));
    out += buf;
    std::snprintf(buf, sizeof buf, "%-32s %-8s %10llu %9llu %9llu %9.3f %8.3f\n", "PACK: decline", "",
                  static_cast<unsigned long long>(s.decisions[2]), static_cast<unsigned long long>(s.declined_true),
                  static_cast<unsigned long long>(s.declined_labelled - s.declined_true),
                  ratio(s.declined_true, s.declined_labelled), ratio(s.declined_true, s.positives));
    out += buf;
    for (std::uint32_t m = 0; m < rules.models.size() && m < s.model_scores.size(); ++m) {
      std::vector<ScoredLabel> rows = s.model_scores[m];
      double ap = pr_auc(rows), roc = roc_auc(rows);
      std::snprintf(buf, sizeof buf, "%-32s %-8s %10zu  PR-AUC %.4f  ROC-AUC %.4f\n",
                    ("MODEL: " + rules.models[m].name).c_str(), "scored", rows.size(), ap, roc);
      out += buf;
      for (double t : model_thresholds(rules, m)) {
        ThresholdFigures f = at_threshold(rows, t);
        std::snprintf(buf, sizeof buf, "  %-30s %-8s %10zu %9zu %9zu %9.3f %8.3f\n",
                      (rules.models[m].name + " >= " + std::to_string(t).substr(0, 6)).c_str(), "", f.flagged,
                      f.true_positives, f.flagged - f.true_positives, f.precision, f.recall);
        out += buf;
      }
    }
    std::snprintf(buf, sizeof buf, "%-32s %11.3f%%\n%-32s %11.3f%%\n", "review rate", pct(s.decisions[1]),
                  "decline rate", pct(s.decisions[2]));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "\n%-32s %12.3f\n%-32s %12.0f\n", "seconds", s.seconds, "events/s",
                s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0.0);
  out += buf;
  return out;
}

}  // namespace fraud

#include "engine/cli/rule_tests.h"
#include "engine/bounded_file.h"
#include "engine/yaml_value.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "connectors/memory/memory_feature_store.h"
#include "engine/pipeline/list_source.h"
#include "engine/pipeline/local_run.h"
#include "engine/yaml_value.h"

namespace fraud {

namespace {

std::string where(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + v[i];
  return out + "]";
}

std::string show(const Value& v) {
  std::string out;
  if (v.is_number()) {
    append_number(out, v.number);
  } else {
    append_json_text(out, v);
  }
  return out;
}

bool same_value(const Value& expected, const Value& actual) {
  if (expected.is_number() && actual.is_number()) {
    double a = expected.number, b = actual.number;
    return a == b || std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
  }
  return expected.kind == actual.kind && (expected.is_null() || values_equal(expected, actual));
}

class CaseRunner {
 public:
  CaseRunner(const RuleSet& rules, RuleTestReport& report) : rules_(rules), report_(report) {}

  void run_file(const std::filesystem::path& path) {
    file_ = path.string();
    YAML::Node root;
    FileText text = read_bounded_file(path, kMaxPackFileBytes);
    if (!text.ok) {
      bad(file_ + ":1:1: cannot read the test file: " + text.error);
      return;
    }
    try {
      root = load_bounded_yaml(text.text);
    } catch (const YAML::Exception& e) {
      bad(file_ + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
          ": YAML error: " + e.msg);
      return;
    }
    if (!root || root.IsNull()) return;
    if (!root.IsMap() || !root["cases"] || !root["cases"].IsSequence()) {
      bad(file_ + ":1:1: a test file must be a map with a 'cases' list");
      return;
    }
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it->first.Scalar() != "cases") bad(where(file_, it->first) + ": unknown key '" + it->first.Scalar() + "'");
    }
    for (const auto& c : root["cases"]) run_case(c);
  }

 private:
  void bad(const std::string& msg) {
    ++report_.errors;
    report_.output += "ERROR " + msg + "\n";
  }

  bool check_keys(const YAML::Node& map, std::initializer_list<const char*> allowed, const char* what) {
    bool ok = true;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string k = it->first.Scalar();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
        bad(where(file_, it->first) + ": unknown key '" + k + "' in " + what);
        ok = false;
      }
    }
    return ok;
  }

  bool known_rules(const YAML::Node& list, const char* key) {
    if (!list.IsSequence()) {
      bad(where(file_, list) + ": '" + key + "' must be a list of rule names");
      return false;
    }
    bool ok = true;
    for (const auto& r : list) {
      if (!rules_.rule_index(r.Scalar())) {
        bad(where(file_, r) + ": unknown rule '" + r.Scalar() + "' in '" + key + "'");
        ok = false;
      }
    }
    return ok;
  }

  void run_case(const YAML::Node& c) {
    if (!c.IsMap()) {
      bad(where(file_, c) + ": each case must be a map with name, events, expect");
      return;
    }
    if (!check_keys(c, {"name", "description", "events", "expect"}, "a case")) return;
    std::string name = c["name"] ? c["name"].Scalar() : "";
    if (name.empty()) return bad(where(file_, c) + ": a case needs a 'name'");
    const YAML::Node events = c["events"];
    const YAML::Node expect = c["expect"];
    if (!events || !events.IsSequence() || events.size() == 0) {
      return bad(where(file_, c) + ": case '" + name + "' needs a non-empty 'events' list");
    }
    if (!expect || !expect.IsSequence() || expect.size() == 0) {
      return bad(where(file_, c) + ": case '" + name + "' needs a non-empty 'expect' list");
    }
    // Build events as JSON; the pipeline parses them exactly like production
    // input (here first, to report an invalid one with its place).
    std::vector<std::string> jsons;
    std::vector<Event> parsed(events.size());
    std::vector<const Event*> ptrs;
    EventParser parser(rules_.fields);
    std::size_t n = 0;
    for (const auto& e : events) {
      ++n;
      if (!e.IsMap()) return bad(where(file_, e) + ": an event must be a map");
      std::string json;
      append_yaml_as_json(json, e);
      if (!e["event_id"]) {
        json.insert(1, "\"event_id\":\"" + std::to_string(n) + "\"" + (e.size() ? "," : ""));
      }
      EventError err;
      if (!parser.parse(json, parsed[n - 1], err)) {
        return bad(where(file_, e) + ": event " + std::to_string(n) + " is invalid: " + err.detail);
      }
      ptrs.push_back(&parsed[n - 1]);
      jsons.push_back(std::move(json));
    }
    std::vector<Verdict> verdicts;
    std::vector<std::vector<Value>> features, model_scores;
    bool degraded = false;
    CallbackSink sink(
        [&](const VerdictOut& o) {
          verdicts.push_back(o.verdict);
          features.emplace_back(o.features.begin(), o.features.end());  // numbers: nothing dangles
          model_scores.emplace_back(o.models.begin(), o.models.end());
          degraded |= o.verdict.degraded;
        },
        nullptr);
    ListSource source(jsons, "test");
    MemoryFeatureStore store;
    PipelineConfig config = local_config(4096);
    config.read_all_features = true;
    config.encode_verdicts = false;
    run_to_end(config, rules_, source, sink, store);
    if (degraded || verdicts.size() != ptrs.size()) return bad(where(file_, c) + ": store error");

    std::vector<std::string> failures;
    for (const auto& x : expect) {
      if (!x.IsMap()) {
        bad(where(file_, x) + ": each expectation must be a map");
        return;
      }
      if (!check_keys(x,
                      {"event_id", "decision", "score", "rules", "shadow_rules", "matched", "not_matched", "features",
                       "reasons", "models"},
                      "an expectation")) {
        return;
      }
      std::size_t idx = ptrs.size() - 1;
      std::string id = std::string(ptrs[idx]->event_id);
      if (x["event_id"]) {
        id = x["event_id"].Scalar();
        auto pos = std::find_if(ptrs.begin(), ptrs.end(), [&](const Event* e) { return e->event_id == id; });
        if (pos == ptrs.end()) return bad(where(file_, x["event_id"]) + ": no event with event_id '" + id + "'");
        idx = static_cast<std::size_t>(pos - ptrs.begin());
      }
      const Verdict& v = verdicts[idx];
      auto prefix = "event " + id + ": ";
      std::vector<std::string> enforce, shadow;
      for (std::size_t i = 0; i < v.hit_count; ++i) enforce.push_back(rules_.rules[v.hits[i].rule].name);
      for (std::size_t i = 0; i < v.shadow_count; ++i) shadow.push_back(rules_.rules[v.shadow_hits[i].rule].name);
      std::set<std::string> all(enforce.begin(), enforce.end());
      all.insert(shadow.begin(), shadow.end());
      if (x["decision"]) {
        std::string want = x["decision"].Scalar();
        std::string got(decision_name(v.decision));
        if (want != "allow" && want != "review" && want != "decline") {
          return bad(where(file_, x["decision"]) + ": decision must be allow, review or decline");
        }
        if (want != got) failures.push_back(prefix + "decision: expected " + want + ", got " + got);
      }
      if (x["score"]) {
        Value want = yaml_scalar_value(x["score"]);
        if (!want.is_number()) return bad(where(file_, x["score"]) + ": score must be a number");
        if (!same_value(want, Value::of_number(v.score))) {
          failures.push_back(prefix + "score: expected " + show(want) + ", got " + show(Value::of_number(v.score)));
        }
      }
      auto exact = [&](const char* key, std::vector<std::string> got) {
        if (!x[key]) return true;
        if (!known_rules(x[key], key)) return false;
        std::vector<std::string> want;
        for (const auto& r : x[key]) want.push_back(r.Scalar());
        std::vector<std::string> ws = want, gs = got;
        std::sort(ws.begin(), ws.end());
        std::sort(gs.begin(), gs.end());
        if (ws != gs) failures.push_back(prefix + key + ": expected " + join(want) + ", got " + join(got));
        return true;
      };
      if (!exact("rules", enforce) || !exact("shadow_rules", shadow)) return;
      if (x["matched"]) {
        if (!known_rules(x["matched"], "matched")) return;
        for (const auto& r : x["matched"]) {
          if (!all.count(r.Scalar())) {
            failures.push_back(prefix + "expected rule " + r.Scalar() + " to match; matched " +
                               join(std::vector<std::string>(all.begin(), all.end())));
          }
        }
      }
      if (x["not_matched"]) {
        if (!known_rules(x["not_matched"], "not_matched")) return;
        for (const auto& r : x["not_matched"]) {
          if (all.count(r.Scalar()))
            failures.push_back(prefix + "expected rule " + r.Scalar() + " not to match, but it did");
        }
      }
      if (const YAML::Node feats = x["features"]) {
        if (!feats.IsMap()) return bad(where(file_, feats) + ": features must be a map name: value");
        const auto& values = features[idx];
        for (auto it = feats.begin(); it != feats.end(); ++it) {
          auto fid = rules_.feature_index(it->first.Scalar());
          if (!fid) return bad(where(file_, it->first) + ": unknown feature '" + it->first.Scalar() + "'");
          Value want = yaml_scalar_value(it->second);
          if (!same_value(want, values[*fid])) {
            failures.push_back(prefix + "feature " + it->first.Scalar() + ": expected " + show(want) + ", got " +
                               show(values[*fid]));
          }
        }
      }
      if (const YAML::Node models = x["models"]) {
        // name: [min, max] (inclusive), a number, or null (not scored).
        if (!models.IsMap()) return bad(where(file_, models) + ": models must be a map name: [min, max]");
        for (auto it = models.begin(); it != models.end(); ++it) {
          auto mid = rules_.model_index(it->first.Scalar());
          if (!mid) return bad(where(file_, it->first) + ": unknown model '" + it->first.Scalar() + "'");
          const Value& got = model_scores[idx].size() > *mid ? model_scores[idx][*mid] : Value{};
          const std::string name = "model " + it->first.Scalar();
          if (it->second.IsSequence()) {
            Value lo = it->second.size() == 2 ? yaml_scalar_value(it->second[0]) : Value{};
            Value hi = it->second.size() == 2 ? yaml_scalar_value(it->second[1]) : Value{};
            if (!lo.is_number() || !hi.is_number() || lo.number > hi.number) {
              return bad(where(file_, it->second) + ": a score range is [min, max], like [0.8, 1]");
            }
            if (!got.is_number() || got.number < lo.number || got.number > hi.number) {
              failures.push_back(prefix + name + ": expected a score in [" + show(lo) + ", " + show(hi) + "], got " +
                                 show(got));
            }
          } else {
            Value want = yaml_scalar_value(it->second);
            if (!want.is_number() && !want.is_null()) {
              return bad(where(file_, it->second) + ": expect a score, [min, max], or null (not scored)");
            }
            if (!same_value(want, got))
              failures.push_back(prefix + name + ": expected " + show(want) + ", got " + show(got));
          }
        }
      }
      if (const YAML::Node reasons = x["reasons"]) {
        if (!reasons.IsMap()) return bad(where(file_, reasons) + ": reasons must be a map rule: text");
        for (auto it = reasons.begin(); it != reasons.end(); ++it) {
          auto rid = rules_.rule_index(it->first.Scalar());
          if (!rid) return bad(where(file_, it->first) + ": unknown rule '" + it->first.Scalar() + "'");
          std::string got;
          bool found = false;
          for (std::size_t i = 0; i < v.hit_count; ++i) {
            if (v.hits[i].rule == *rid) got = v.hits[i].reason, found = true;
          }
          for (std::size_t i = 0; i < v.shadow_count; ++i) {
            if (v.shadow_hits[i].rule == *rid) got = v.shadow_hits[i].reason, found = true;
          }
          if (!found) {
            failures.push_back(prefix + "reason of " + it->first.Scalar() + ": the rule did not match");
          } else if (got != it->second.Scalar()) {
            failures.push_back(prefix + "reason of " + it->first.Scalar() + ": expected \"" + it->second.Scalar() +
                               "\", got \"" + got + "\"");
          }
        }
      }
    }
    if (failures.empty()) {
      ++report_.passed;
      report_.output += "PASS  " + name + "\n";
    } else {
      ++report_.failed;
      report_.output += "FAIL  " + name + "  (" + where(file_, c) + ")\n";
      for (const auto& f : failures) report_.output += "      " + f + "\n";
    }
  }

  const RuleSet& rules_;
  RuleTestReport& report_;
  std::string file_;
};

}  // namespace

RuleTestReport run_rule_tests(const RuleSet& rules, const std::filesystem::path& tests_dir) {
  RuleTestReport report;
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(tests_dir, ec)) {
    auto name = e.path().filename().string();
    if (name[0] != '.' && (name.ends_with(".yaml") || name.ends_with(".yml"))) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    report.errors = 1;
    report.output = "ERROR no test files (*.yaml) in " + tests_dir.string() + "\n";
    return report;
  }
  CaseRunner runner(rules, report);
  for (const auto& f : files) runner.run_file(f);
  return report;
}

}  // namespace fraud

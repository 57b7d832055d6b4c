#include "engine/cli/verdict_diff.h"

#include <algorithm>
#include <cstdio>
#include <istream>
#include <ostream>
#include <set>

#include "connectors/memory/memory_feature_store.h"
#include "engine/pipeline/line_source.h"
#include "engine/pipeline/local_run.h"

namespace fraud {

namespace {

// The base pack's outcome of one event, kept for the candidate's pass.
struct BaseOutcome {
  std::int64_t line = 0;  // the record's offset (line number - 1)
  double score = 0;
  std::uint32_t hits_begin = 0;  // into the flat list of matched enforce rules
  std::uint8_t decision = 0;
};

std::set<std::string> matched(const RuleSet& rules, const Verdict& v) {
  std::set<std::string> out;
  for (std::size_t h = 0; h < v.hit_count; ++h) out.insert(rules.rules[v.hits[h].rule].name);
  return out;
}

}  // namespace

DiffResult diff_verdicts(const RuleSet& base, const RuleSet& candidate, std::istream& in, std::ostream& errors,
                         std::size_t max_samples) {
  DiffResult d;
  d.base_version = base.version;
  d.candidate_version = candidate.version;
  PipelineConfig config = local_config(2048);
  config.encode_verdicts = false;
  std::uint64_t reported = 0;
  auto report = [&](const DeadLetterOut& dl) {
    ++d.invalid;
    if (++reported <= 20) errors << "line " << dl.record.offset + 1 << ": " << dl.reason << ": " << dl.detail << "\n";
  };

  // Pass 1: the base pack, compact outcomes by line.
  std::vector<BaseOutcome> outcomes;
  std::vector<std::uint32_t> base_hits;
  {
    CallbackSink sink(
        [&](const VerdictOut& o) {
          outcomes.push_back({o.record.offset, o.verdict.score, static_cast<std::uint32_t>(base_hits.size()),
                              static_cast<std::uint8_t>(o.verdict.decision)});
          for (std::size_t h = 0; h < o.verdict.hit_count; ++h) base_hits.push_back(o.verdict.hits[h].rule);
        },
        report);
    LineSource source(in, "diff");
    MemoryFeatureStore store;
    run_to_end(config, base, source, sink, store);
  }
  in.clear();
  in.seekg(0);
  if (!in) {
    errors << "diff: the events must be a file it can read twice\n";
    return d;
  }

  // Pass 2: the candidate, compared line by line with the base.
  std::size_t at = 0;
  std::set<std::string> ma;
  auto base_matched = [&](std::size_t k) {
    ma.clear();
    const std::size_t end = k + 1 < outcomes.size() ? outcomes[k + 1].hits_begin : base_hits.size();
    for (std::size_t h = outcomes[k].hits_begin; h < end; ++h) ma.insert(base.rules[base_hits[h]].name);
  };
  auto skip_to = [&](std::int64_t line) {
    // Base verdicts of lines the candidate found invalid were counted there.
    while (at < outcomes.size() && outcomes[at].line < line) ++at;
  };
  CallbackSink sink(
      [&](const VerdictOut& o) {
        skip_to(o.record.offset);
        if (at == outcomes.size() || outcomes[at].line != o.record.offset) {
          return;  // invalid for the base pack only: counted in pass 1
        }
        const BaseOutcome& a = outcomes[at++];
        base_matched(at - 1);
        auto mb = matched(candidate, o.verdict);
        for (const auto& r : ma) ++d.rules[r].base_hits;
        for (const auto& r : mb) ++d.rules[r].candidate_hits;
        int da = a.decision, db = static_cast<int>(o.verdict.decision);
        ++d.transitions[da][db];
        ++d.events;
        if (a.score != o.verdict.score) ++d.score_changed;
        if (da == db) return;
        ++d.changed;
        for (const auto& r : mb) {
          if (!ma.count(r)) ++d.rules[r].gained;
        }
        for (const auto& r : ma) {
          if (!mb.count(r)) ++d.rules[r].lost;
        }
        auto& s = d.samples[{da, db}];
        if (s.size() < max_samples) s.emplace_back(o.event.event_id);
      },
      [&](const DeadLetterOut& dl) {
        skip_to(dl.record.offset);
        if (at < outcomes.size() && outcomes[at].line == dl.record.offset) {
          ++at;
          report(dl);  // valid for the base, not for the candidate
        }
        // else: invalid for both, counted in pass 1
      });
  LineSource source(in, "diff");
  MemoryFeatureStore store;
  run_to_end(config, candidate, source, sink, store);
  return d;
}

namespace {
const char* name_of(int decision) { return decision_name(static_cast<Decision>(decision)).data(); }
}  // namespace

std::string format_diff_text(const DiffResult& d) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "base %s -> candidate %s\n", d.base_version.substr(0, 12).c_str(),
                d.candidate_version.substr(0, 12).c_str());
  out += buf;
  std::snprintf(buf, sizeof buf,
                "%llu events (%llu invalid lines), %llu decisions change (%.3f%%), %llu scores change\n\n",
                static_cast<unsigned long long>(d.events), static_cast<unsigned long long>(d.invalid),
                static_cast<unsigned long long>(d.changed),
                d.events ? 100.0 * static_cast<double>(d.changed) / static_cast<double>(d.events) : 0.0,
                static_cast<unsigned long long>(d.score_changed));
  out += buf;
  out += "base \\ candidate      allow     review    decline\n";
  for (int i = 0; i < 3; ++i) {
    std::snprintf(buf, sizeof buf, "%-18s %10llu %10llu %10llu\n", name_of(i),
                  static_cast<unsigned long long>(d.transitions[i][0]),
                  static_cast<unsigned long long>(d.transitions[i][1]),
                  static_cast<unsigned long long>(d.transitions[i][2]));
    out += buf;
  }
  if (d.changed) {
    out += "\nchanges                count  sample event ids\n";
    for (const auto& [t, ids] : d.samples) {
      std::string samples;
      for (const auto& id : ids) samples += (samples.empty() ? "" : ", ") + id;
      std::snprintf(buf, sizeof buf, "%-7s -> %-9s %8llu  ", name_of(t.first), name_of(t.second),
                    static_cast<unsigned long long>(d.transitions[t.first][t.second]));
      out += buf + samples + "\n";
    }
  }
  out += "\nrule                             base hits  candidate hits  gained on changed  lost on changed\n";
  for (const auto& [name, r] : d.rules) {
    std::snprintf(buf, sizeof buf, "%-32s %9llu %15llu %18llu %16llu\n", name.c_str(),
                  static_cast<unsigned long long>(r.base_hits), static_cast<unsigned long long>(r.candidate_hits),
                  static_cast<unsigned long long>(r.gained), static_cast<unsigned long long>(r.lost));
    out += buf;
  }
  return out;
}

std::string format_diff_json(const DiffResult& d) {
  std::string out = "{\"base_version\":";
  append_json_string(out, d.base_version);
  out += ",\"candidate_version\":";
  append_json_string(out, d.candidate_version);
  out += ",\"events\":" + std::to_string(d.events) + ",\"invalid\":" + std::to_string(d.invalid) +
         ",\"changed\":" + std::to_string(d.changed) + ",\"score_changed\":" + std::to_string(d.score_changed) +
         ",\"transitions\":[";
  bool first = true;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (!d.transitions[i][j]) continue;
      if (!first) out += ",";
      first = false;
      out += std::string("{\"from\":\"") + name_of(i) + "\",\"to\":\"" + name_of(j) +
             "\",\"count\":" + std::to_string(d.transitions[i][j]) + ",\"samples\":[";
      auto it = d.samples.find({i, j});
      if (it != d.samples.end()) {
        for (std::size_t k = 0; k < it->second.size(); ++k) {
          if (k) out += ",";
          append_json_string(out, it->second[k]);
        }
      }
      out += "]}";
    }
  }
  out += "],\"rules\":[";
  first = true;
  for (const auto& [name, r] : d.rules) {
    if (!first) out += ",";
    first = false;
    out += "{\"name\":";
    append_json_string(out, name);
    out += ",\"base_hits\":" + std::to_string(r.base_hits) + ",\"candidate_hits\":" + std::to_string(r.candidate_hits) +
           ",\"gained\":" + std::to_string(r.gained) + ",\"lost\":" + std::to_string(r.lost) + "}";
  }
  out += "]}\n";
  return out;
}

}  // namespace fraud

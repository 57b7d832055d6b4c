#include "engine/cli/verdict_diff.h"

#include <algorithm>
#include <cstdio>
#include <istream>
#include <ostream>
#include <set>

#include "connectors/memory/memory_feature_store.h"
#include "engine/batch_processor.h"
#include "engine/event.h"

namespace fraud {

namespace {

// One pack's side of the diff: its parser, processor and store.
struct Side {
  const RuleSet& rules;
  EventParser parser;
  BatchProcessor processor;
  MemoryFeatureStore store;
  EvalScratch scratch;
  std::vector<Event> events;
  std::vector<const Event*> ptrs;
  std::vector<Verdict> verdicts;
  Side(const RuleSet& r, std::size_t batch) : rules(r), parser(r.fields), events(batch), verdicts(batch) {}

  void run(std::vector<SourceRef>& sources) {
    processor.plan(rules, ptrs, sources);
    StoreStatus st = store.apply(rules, processor.ops(), processor.results());
    processor.mark_late(st.late_ops);
    for (std::size_t i = 0; i < ptrs.size(); ++i) processor.evaluate(rules, i, verdicts[i], scratch, !st.ok);
  }
};

std::set<std::string> matched(const RuleSet& rules, const Verdict& v) {
  std::set<std::string> out;
  for (std::size_t h = 0; h < v.hit_count; ++h) out.insert(rules.rules[v.hits[h].rule].name);
  return out;
}

}  // namespace

DiffResult diff_verdicts(const RuleSet& base, const RuleSet& candidate, std::istream& in, std::ostream& errors,
                         std::size_t max_samples) {
  const std::size_t batch = 2048;
  DiffResult d;
  d.base_version = base.version;
  d.candidate_version = candidate.version;
  Side a(base, batch), b(candidate, batch);
  std::vector<SourceRef> sources;
  std::string line;
  std::uint64_t line_no = 0;
  auto flush = [&] {
    if (a.ptrs.empty()) return;
    a.run(sources);
    b.run(sources);
    for (std::size_t i = 0; i < a.ptrs.size(); ++i) {
      const Verdict& va = a.verdicts[i];
      const Verdict& vb = b.verdicts[i];
      auto ma = matched(base, va), mb = matched(candidate, vb);
      for (const auto& r : ma) ++d.rules[r].base_hits;
      for (const auto& r : mb) ++d.rules[r].candidate_hits;
      int da = static_cast<int>(va.decision), db = static_cast<int>(vb.decision);
      ++d.transitions[da][db];
      if (va.score != vb.score) ++d.score_changed;
      if (da == db) continue;
      ++d.changed;
      for (const auto& r : mb) {
        if (!ma.count(r)) ++d.rules[r].gained;
      }
      for (const auto& r : ma) {
        if (!mb.count(r)) ++d.rules[r].lost;
      }
      auto& s = d.samples[{da, db}];
      if (s.size() < max_samples) s.emplace_back(a.ptrs[i]->event_id);
    }
    d.events += a.ptrs.size();
    a.ptrs.clear();
    b.ptrs.clear();
    sources.clear();
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::size_t slot = a.ptrs.size();
    EventError ea, eb;
    bool ok_a = a.parser.parse(line, a.events[slot], ea);
    bool ok_b = b.parser.parse(line, b.events[slot], eb);
    if (!ok_a || !ok_b) {
      ++d.invalid;
      if (d.invalid <= 20) errors << "line " << line_no << ": " << (ok_a ? eb : ea).reason << ": " << (ok_a ? eb : ea).detail << "\n";
      continue;
    }
    a.ptrs.push_back(&a.events[slot]);
    b.ptrs.push_back(&b.events[slot]);
    sources.push_back({"diff", 0, static_cast<std::int64_t>(line_no - 1)});
    if (a.ptrs.size() == batch) flush();
  }
  flush();
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
  std::snprintf(buf, sizeof buf, "%llu events (%llu invalid lines), %llu decisions change (%.3f%%), %llu scores change\n\n",
                static_cast<unsigned long long>(d.events), static_cast<unsigned long long>(d.invalid),
                static_cast<unsigned long long>(d.changed),
                d.events ? 100.0 * static_cast<double>(d.changed) / static_cast<double>(d.events) : 0.0,
                static_cast<unsigned long long>(d.score_changed));
  out += buf;
  out += "base \\ candidate      allow     review    decline\n";
  for (int i = 0; i < 3; ++i) {
    std::snprintf(buf, sizeof buf, "%-18s %10llu %10llu %10llu\n", name_of(i),
                  static_cast<unsigned long long>(d.transitions[i][0]), static_cast<unsigned long long>(d.transitions[i][1]),
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

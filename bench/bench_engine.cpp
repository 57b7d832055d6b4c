// Micro benchmarks of the offline engine on the shipped pack.
//
// Hypothesis: one core replays the shipped micro-lending pack at >= 300,000
// events/s: parse ~1 us, plan + in-memory features ~1 us, rules < 0.8 us,
// verdict encoding ~0.4 us per event (ARCHITECTURE.md budget).
// Scenarios: event parse alone; list membership for 1,000 and 1,000,000 items; rule evaluation of one batch with
// features already fetched; verdict encoding; update+read of each aggregation in memory; the whole replay path (parse
// -> plan -> store -> evaluate -> encode) single-threaded, which is the README's replay figure. Sizes: 200,000
// synthetic events (seed 42, 4% fraud), batches of 4096; populations of 200,000 (cold keys) and 2,000 customers (warm
// keys).
#include <benchmark/benchmark.h>

#include <sstream>

#include "bench/shipped_pack.h"
#include "connectors/memory/memory_feature_store.h"
#include "engine/cli/huge_pages.h"
#include "engine/cli/replay.h"
#include "engine/pack_loader.h"
#include "engine/pipeline/batch_runner.h"
#include "engine/synthetic_stream.h"

using namespace fraud;

namespace {

using bench::shipped_pack;

std::vector<std::string> make_events(std::uint32_t customers) {
  SyntheticOptions o;
  o.customers = customers;
  SyntheticStream s(o);
  std::vector<std::string> out(200'000);
  for (auto& l : out) s.next(l);
  return out;
}

// 200,000 customers: most keys are seen for the first time (cold state).
const std::vector<std::string>& events() {
  static std::vector<std::string> lines = make_events(200'000);
  return lines;
}

void BM_Parse(benchmark::State& state) {
  auto rules = shipped_pack();
  EventParser parser(rules->fields);
  Event e;
  EventError err;
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parser.parse(events()[i++ % events().size()], e, err));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse);

// Runs one batch through the stages once, then measures rule evaluation or
// encoding on its feature values.
struct Prepared {
  MemoryFeatureStore store;
  BatchRunner runner{store, BatchRunner::Options{.encode_verdicts = false}};
  std::vector<SourceRecord> records = BatchRunner::records_of(std::span(events()).first(4096));
  std::unique_ptr<PipelineBatch> batch = runner.new_batch();
  const std::vector<const Event*>& ptrs = batch->ptrs;
  const std::vector<SourceRef>& src = batch->sources;
  BatchProcessor& processor() { return batch->processor; }
  explicit Prepared(const std::shared_ptr<const RuleSet>& rules) {
    runner.prepare(*batch, rules, records);
    runner.finish(*batch);
  }
};

void BM_EvaluateRules(benchmark::State& state) {
  auto rules = shipped_pack();
  Prepared p(rules);
  EvalScratch scratch;
  Verdict v;
  std::size_t i = 0;
  for (auto _ : state) {
    p.processor().evaluate(*rules, i++ % p.ptrs.size(), v, scratch);
    benchmark::DoNotOptimize(v.score);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EvaluateRules);

void BM_EncodeVerdict(benchmark::State& state) {
  auto rules = shipped_pack();
  Prepared p(rules);
  EvalScratch scratch;
  std::vector<Verdict> v(p.ptrs.size());
  for (std::size_t i = 0; i < v.size(); ++i) p.processor().evaluate(*rules, i, v[i], scratch);
  std::string out;
  std::size_t i = 0;
  for (auto _ : state) {
    out.clear();
    std::size_t k = i++ % v.size();
    encode_verdict(*rules, *p.ptrs[k], v[k], p.processor().features_of(k), p.src[k], out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeVerdict);

// One feature of each aggregation, 10,000 keys, update+read per op.
void BM_AggregationInMemory(benchmark::State& state) {
  static const char* kAggs[] = {"count", "sum", "min", "max", "avg", "distinct"};
  std::string agg = kAggs[state.range(0)];
  std::string yaml = "features:\n  - name: f\n    agg: " + agg + "\n" + (agg == "count" ? "" : "    of: v\n") +
                     "    by: k\n    window: 24h\n    resolution: 1h\n";
  auto pack = compile_pack({{"p.yaml", yaml}});
  const RuleSet& rules = *pack.rules;
  MemoryFeatureStore store;
  std::vector<std::string> keys(10'000);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = "s" + std::to_string(i);
  FeatureOp op;
  op.update = op.read = true;
  Value result;
  std::int64_t n = 0;
  for (auto _ : state) {
    op.key = keys[static_cast<std::size_t>(n) % keys.size()];
    op.bucket = n / 100'000;
    op.of = Value::of_number(static_cast<double>(n % 97), true);
    std::string text = std::to_string(n % 97);
    op.of_text = text;
    store.apply(rules, std::span(&op, 1), std::span(&result, 1));
    ++n;
  }
  state.SetLabel(agg);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AggregationInMemory)->DenseRange(0, 5);

// Membership in a list of N items (hash set: flat cost whatever N).
void BM_ListMembership(benchmark::State& state) {
  std::string items;
  for (std::int64_t i = 0; i < state.range(0); ++i) items += "dev-" + std::to_string(i) + "\n";
  auto pack = compile_pack({{"p.yaml", "lists:\n  - name: L\n    file: l.txt\n"}},
                           [&](const std::string&) { return std::optional<std::string>(items); });
  const ListSet& l = pack.rules->lists[0];
  std::vector<std::string> probes;
  for (int i = 0; i < 1024; ++i) probes.push_back("dev-" + std::to_string((i * 7919) % (2 * state.range(0))));
  std::size_t i = 0, hits = 0;
  for (auto _ : state) hits += l.contains(Value::of_string(probes[i++ & 1023]));
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ListMembership)->Arg(1'000)->Arg(1'000'000);

// The README's replay figure: everything, one thread, verdicts encoded.
// Arg: customer population (200,000: mostly new keys; 2,000: warm keys).
void BM_ReplayShippedPack(benchmark::State& state) {
  auto rules = shipped_pack();
  std::string all;
  for (const auto& l : make_events(static_cast<std::uint32_t>(state.range(0)))) all += l + "\n";
  std::string verdicts;
  verdicts.reserve(all.size() * 2);
  for (auto _ : state) {
    // Not timed: copying the 70 MB input into a fresh stream (a file stream
    // reads it in place) and freeing the last store's state.
    state.PauseTiming();
    std::istringstream in(all);
    std::ostringstream out(std::move(verdicts));
    std::ostringstream errors;
    auto store = std::make_unique<MemoryFeatureStore>();
    state.ResumeTiming();
    ReplayStats stats = replay_events(*rules, *store, in, &out, errors, ReplayOptions{});
    benchmark::DoNotOptimize(stats.events);
    state.PauseTiming();
    store.reset();
    verdicts = std::move(out).str();
    verdicts.clear();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(events().size()));
}
BENCHMARK(BM_ReplayShippedPack)->Arg(200'000)->Arg(2'000)->Unit(benchmark::kMillisecond)->MinTime(3);

}  // namespace

// As the fraudstream binary does (engine/cli/huge_pages.h).
int main(int argc, char** argv) {
  fraud::use_huge_page_heap(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

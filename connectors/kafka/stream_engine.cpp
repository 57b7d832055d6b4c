#include "connectors/kafka/stream_engine.h"

#include <prometheus/metric_family.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_source.h"
#include "engine/pipeline/pipeline.h"

namespace fraud {

struct StreamEngine::Impl {
  StreamConfig config;
  FeatureStore& store;
  EngineMetrics& metrics;
  StreamCounters& counters;
  std::atomic<bool>& stopping;

  mutable std::mutex mu;                        // rules and pipeline
  std::shared_ptr<const RuleSet> rules;         // the pack for the pipeline (before it exists, too)
  std::shared_ptr<const RuleSetMetrics> bound;  // series of a pack swapped in before run()
  Pipeline* pipeline = nullptr;                 // while run() runs

  Impl(StreamConfig c, FeatureStore& s, EngineMetrics& m, StreamCounters& k, std::atomic<bool>& stop)
      : config(std::move(c)), store(s), metrics(m), counters(k), stopping(stop) {}

  PipelineConfig pipeline_config() const {
    PipelineConfig p;
    p.batch_size = config.batch_size;
    p.batch_wait_ms = config.batch_wait_ms;
    p.max_in_flight = config.max_in_flight;
    p.threads = config.threads;
    p.max_event_bytes = config.max_event_bytes;
    p.store_retry_ms = config.store_retry_ms;
    p.failure_policy = config.failure_policy;
    p.idempotent = true;
    return p;
  }

  std::string transactional_id() const {
    if (!config.transactional_id.empty()) return config.transactional_id;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return config.group + "-" + host;
  }

  int run() {
    std::map<std::string, std::string> common = config.kafka_properties;
    common["bootstrap.servers"] = config.bootstrap;
    KafkaSource* consumer = nullptr;  // made after the sink, used by its commits
    KafkaSink sink(KafkaSinkConfig{.properties = common,
                                   .source_topic = config.input_topic,
                                   .output_topic = config.output_topic,
                                   .dlq_topic = config.dlq_topic,
                                   .max_record_bytes = config.max_record_bytes,
                                   .exactly_once = config.exactly_once,
                                   .transactional_id = transactional_id(),
                                   .transaction_ms = config.transaction_ms,
                                   .group_metadata = [&consumer] { return consumer->group_metadata(); }},
                   metrics, counters);
    KafkaSource source(KafkaSourceConfig{.properties = common,
                                         .group = config.group,
                                         .topic = config.input_topic,
                                         .fetch_wait_ms = config.fetch_wait_ms,
                                         .statistics_interval_ms = config.statistics_interval_ms,
                                         .exactly_once = config.exactly_once},
                       metrics, counters);
    consumer = &source;
    std::shared_ptr<const RuleSet> pack;
    {
      std::lock_guard lock(mu);
      pack = rules;
    }
    Pipeline p(pipeline_config(), pack, source, sink, store, metrics, counters);
    {
      std::lock_guard lock(mu);
      pipeline = &p;
      if (rules != pack) p.swap_rules(rules);  // swapped while the clients were made
    }
    if (stopping.load()) p.stop();
    int rc = p.run();
    std::lock_guard lock(mu);
    pipeline = nullptr;
    return rc;
  }
};

StreamEngine::StreamEngine(StreamConfig config, std::shared_ptr<const RuleSet> rules, FeatureStore& store,
                           EngineMetrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(config), store, metrics, counters_, stopping_)) {
  impl_->bound = metrics.bind_rules(*rules);
  impl_->rules = std::move(rules);
  metrics.add_scrape_source(this, [this, &store](std::vector<prometheus::MetricFamily>& out) {
    collect_stats(counters_, out);
    collect_stats(store.counters(), out);
  });
}

StreamEngine::~StreamEngine() { impl_->metrics.remove_scrape_source(this); }

void StreamEngine::append_stats_json(std::string& out) const {
  append_stats_json_of(counters_, "", out);
  append_stats_json_of(impl_->store.counters(), "store_", out);
}

int StreamEngine::run() {
  started_.store(true);
  int rc = impl_->run();
  finished_.store(true);
  return rc;
}

void StreamEngine::stop() {
  stopping_.store(true);
  std::lock_guard lock(impl_->mu);
  if (impl_->pipeline) impl_->pipeline->stop();
}

void StreamEngine::swap_rules(std::shared_ptr<const RuleSet> rules) {
  std::lock_guard lock(impl_->mu);
  impl_->rules = rules;
  if (impl_->pipeline) {
    impl_->pipeline->swap_rules(std::move(rules));
  } else {
    impl_->bound = impl_->metrics.bind_rules(*impl_->rules);
  }
}

std::shared_ptr<const RuleSet> StreamEngine::rules() const {
  std::lock_guard lock(impl_->mu);
  return impl_->rules;
}

std::uint64_t StreamEngine::rule_hits(std::size_t rule) const {
  std::lock_guard lock(impl_->mu);
  return impl_->pipeline ? impl_->pipeline->rule_hits(rule) : 0;
}

}  // namespace fraud

// The streaming subcommands of the CLI: `kafka`, `run`, `demo`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/cli/run_config.h"

namespace fraud {

// Runs the embedded Kafka cluster until SIGINT/SIGTERM; the first line of
// stdout is its bootstrap address. `topics` are "NAME:PARTITIONS".
int cmd_kafka(int brokers, const std::vector<std::string>& topics);

// Runs the engine until SIGINT/SIGTERM (graceful: finish, commit, exit 0).
int cmd_run(const RunConfig& config);

struct DemoOptions {
  std::string rules_dir = "rules";
  std::string redis_url = "memory";
  int partitions = 8;
  double rate = 5000;     // events/s offered; 0 = flat out
  double duration_s = 0;  // 0 = until Ctrl-C
  int metrics_port = 9464;
  double invalid_share = 0.002;
  std::uint64_t seed = 42;
};

// Embedded Kafka + engine + synthetic stream + live one-line summary.
int cmd_demo(const DemoOptions& options);

}  // namespace fraud

#!/usr/bin/env bash
# Runs a test binary's Kafka tests on a broker of the pinned 4.x line (a
# cluster of its own in DIR): on_kafka4.sh DIR TEST_BINARY GTEST_FILTER
set -uo pipefail
cluster="$(cd "$(dirname "$0")/../.." && pwd)/scripts/kafka-cluster.sh"
dir="$1" binary="$2" filter="$3"
"$cluster" start "$dir" --version 4 >/dev/null || exit 1
FRAUDSTREAM_TEST_KAFKA=$(cat "$dir/bootstrap") "$binary" --gtest_filter="$filter"
rc=$?
"$cluster" stop "$dir"
exit $rc

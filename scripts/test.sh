#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs the whole test suite:
# unit tests, the shipped pack's own tests, and the integration suites that
# start a real redis-server and the embedded Kafka on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd build
ctest --output-on-failure -j "${JOBS:-2}" --timeout 600

#!/usr/bin/env bash
# Sets up everything (Debian packages, build) and runs the whole test suite:
# the formatting check (scripts/format.sh --check, clang-format-14),
# then the unit tests again under AddressSanitizer + UBSan (build-asan/), a
# bounded libFuzzer pass over the event parser and the pack loader
# (build-fuzz/, FUZZ_SECONDS per target), then ctest: unit tests, the shipped
# pack's own tests, and the integration suites on a real redis-server and a
# real Apache Kafka broker (KRaft; ctest's kafka_broker fixture starts it from
# the jars scripts/install-deps.sh fetched) on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
scripts/format.sh --check
scripts/sanitize.sh
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh
cd build
ctest --output-on-failure -j "${JOBS:-2}" --timeout 600

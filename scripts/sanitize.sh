#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer
# into ./build-asan (a second build directory) and runs them: any memory
# error, leak or undefined behaviour fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DFRAUD_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j "${JOBS:-2}" --target unit_tests fraudstream
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  build-asan/tests/unit_tests --gtest_brief=1

#!/usr/bin/env bash
# Bounded libFuzzer pass over the event parser and the rule-pack loader
# (clang-14 from Debian, AddressSanitizer + UBSan). FUZZ_SECONDS per target
# (default 30). Exits non-zero if a target crashes, leaks, hangs or runs out
# of memory; the input that did it is left in build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
CXX=clang++-14 CC=clang-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFRAUD_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "${JOBS:-2}" --target fuzz_event_parser fuzz_pack_loader
mkdir -p build-fuzz/artifacts
for target in event_parser pack_loader; do
  seeds="tests/fuzz/seeds/${target%%_*}"
  corpus="build-fuzz/corpus-$target"
  mkdir -p "$corpus"
  echo "fuzzing $target for ${FUZZ_SECONDS:-30} s"
  status=0
  "build-fuzz/tests/fuzz/fuzz_$target" "$corpus" "$seeds" -max_total_time="${FUZZ_SECONDS:-30}" \
    -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/artifacts/ > "build-fuzz/fuzz-$target.log" 2>&1 || status=$?
  grep -E "DONE|stat::number_of_executed_units|ERROR|SUMMARY" "build-fuzz/fuzz-$target.log" || true
  if [[ $status -ne 0 ]]; then
    tail -40 "build-fuzz/fuzz-$target.log"
    exit "$status"
  fi
done

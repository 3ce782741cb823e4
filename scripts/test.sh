#!/usr/bin/env bash
# Every test: lit (dialect, passes, CLI, bad input) and GoogleTest (runtime,
# kernels, end to end against the float64 reference), through ctest; then
# the sanitizer job (scripts/sanitize.sh: the suite under ASan + UBSan in
# build-asan/, less the GPT-2 124M cases, and each fuzz target for
# FUZZ_SECONDS, default 60). SANITIZE=0 skips that job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j 2 "$@"
if [ "${SANITIZE:-1}" != 0 ]; then
  bash scripts/sanitize.sh
fi

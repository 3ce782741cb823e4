#!/usr/bin/env bash
# Every test: lit (dialect, passes, CLI, bad input) and GoogleTest (runtime,
# kernels, end to end against the float64 reference), through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j 2 "$@"

#!/usr/bin/env bash
# The sanitizer job (scripts/test.sh runs it after the normal tests):
#  1. configures and builds build-asan/: everything of xfmr with ASan + UBSan
#     (-fno-sanitize-recover=all) and libFuzzer coverage, plus the fuzz
#     targets of test/fuzz (XFMR_SANITIZE, XFMR_FUZZ). The kernels the
#     compiler generates are not instrumented (LLVM emits them in-process);
#     MLIR and LLVM are the distribution's uninstrumented libraries.
#  2. runs the test suite there (403 of the 408 ctest tests), less the five
#     GPT-2 124M end-to-end cases (GPT2Small124M*: 85-210 s each sanitized,
#     11 min together on 2 cores; the normal run has them, their kernels are
#     not instrumented anyway, and every smaller end-to-end case, on the same
#     runtime and reference code, runs here; SANITIZE_FULL=1 runs them too:
#     they were clean when measured). Every sanitizer report fails the job:
#     reports go to log files (ASAN_OPTIONS/UBSAN_OPTIONS log_path), so that
#     a report in a program a test expects to fail ("not xfmr ...") is not
#     taken for the expected failure; any such file at the end is a failure.
#  3. runs each fuzz target for FUZZ_SECONDS (default 60) on a fresh copy of
#     its seed corpus (test/fuzz/make_corpus.sh's real files and the
#     committed test/fuzz/seeds/<target>/ (fuzz_gguf: also the llama.cpp-written
#     files of test/import/data/), and the inputs that once crashed
#     it, test/fuzz/crashes/<target>/), failing on any crash, leak,
#     timeout (-timeout=20) or memory blow-up (-rss_limit_mb=2048).
# Environment: FUZZ_SECONDS (0 skips step 3), SANITIZE_TESTS=0 skips step 2,
# SANITIZE_FULL=1 adds the GPT-2 124M cases, CTEST_ARGS (extra ctest
# arguments, e.g. "-R Manifest").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=build-asan
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

if [ ! -f $BUILD/build.ninja ]; then
  cmake -G Ninja -S . -B $BUILD -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
    -DXFMR_SANITIZE=ON -DXFMR_FUZZ=ON -DXFMR_BUILD_BENCH=OFF
fi
start=$(date +%s)
cmake --build $BUILD -j "$(nproc)"
echo "sanitize: build-asan built in $(( $(date +%s) - start )) s"

# A report aborts the program (halt_on_error; UBSan: -fno-sanitize-recover)
# and lands in $LOGS/<tool>.<pid>. LeakSanitizer stays on; lsan.supp lists
# the leaks that are not ours (see there).
# allow_user_poisoning=0: LLVM's BumpPtrAllocator (llvm/Support/Allocator.h)
# poisons its slabs and unpoisons what it hands out when the code including
# it is built with ASan. Ours is, the distribution's libMLIR is not: a slab
# our inline copy poisoned is then handed out by libMLIR's copy without the
# unpoisoning, and ASan reports a use-after-poison inside MLIR (seen: an
# MLIR diagnostic's StringAttr, from Candidate::parse of a bad schedule).
# ASan's own checks (heap, stack, globals, leaks) are unaffected.
LOGS=$ROOT/$BUILD/sanitizer-logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:allow_user_poisoning=0:check_initialization_order=1:strict_init_order=1:log_path=$LOGS/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$LOGS/ubsan"
export LSAN_OPTIONS="suppressions=$ROOT/test/fuzz/lsan.supp:print_suppressions=0"
reports() {
  if compgen -G "$LOGS/*" > /dev/null; then
    echo "sanitize: sanitizer reports ($1):" >&2
    for f in "$LOGS"/*; do
      echo "==== $f" >&2
      head -c 20000 "$f" >&2
    done
    exit 1
  fi
}

if [ "${SANITIZE_TESTS:-1}" != 0 ]; then
  start=$(date +%s)
  # shellcheck disable=SC2086
  exclude=(-E '^GPT2Small124M')
  [ "${SANITIZE_FULL:-0}" = 1 ] && exclude=()
  # shellcheck disable=SC2086
  ctest --test-dir $BUILD --output-on-failure -j 2 "${exclude[@]}" ${CTEST_ARGS:-}
  echo "sanitize: sanitized tests took $(( $(date +%s) - start )) s"
  reports "test suite"
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  start=$(date +%s)
  CORPUS=$ROOT/$BUILD/fuzz-corpus
  rm -rf "$CORPUS.seeds" && mkdir -p "$CORPUS.seeds"
  # Seeds from the real files; the normal build's xfmr when there is one
  # (faster, and its output is the same), else this build's.
  SEED_BUILD=$ROOT/build
  [ -x "$SEED_BUILD/bin/xfmr" ] || SEED_BUILD=$ROOT/$BUILD
  bash test/fuzz/make_corpus.sh "$SEED_BUILD" "$CORPUS.seeds"
  for target in fuzz_safetensors fuzz_gguf fuzz_config fuzz_tokenizer fuzz_hf_tokenizer fuzz_manifest fuzz_tuning_import; do
    dir=$CORPUS/$target
    rm -rf "$dir" && mkdir -p "$dir" "$CORPUS/artifacts/$target"
    # One source per cp: a committed seed may share a name with a made one
    # (cp refuses to overwrite a file it created in the same call).
    for src in "$CORPUS.seeds/$target" test/fuzz/seeds/$target; do
      if compgen -G "$src/*" > /dev/null; then cp -f "$src"/* "$dir/"; fi
    done
    # GGUF files llama.cpp itself wrote (test/import/data/README.md).
    if [ $target = fuzz_gguf ]; then cp -f test/import/data/*.gguf "$dir/"; fi
    # Every input that once crashed a target: run first, as regressions.
    if [ -d test/fuzz/crashes/$target ]; then
      cp test/fuzz/crashes/$target/* "$dir/"
    fi
    echo "sanitize: $target for $FUZZ_SECONDS s on $(ls "$dir" | wc -l) seeds"
    # GPT-2's files together are 1.5 MB, past libFuzzer's default 1 MiB cap.
    maxlen=()
    [ $target = fuzz_tokenizer ] && maxlen=(-max_len=2000000)
    # Reports of the fuzz run itself go to stderr (libFuzzer reads them).
    if ! ASAN_OPTIONS="${ASAN_OPTIONS%%:log_path=*}" UBSAN_OPTIONS="${UBSAN_OPTIONS%%:log_path=*}" \
        "$BUILD/bin/fuzz/$target" "$dir" -max_total_time="$FUZZ_SECONDS" "${maxlen[@]}" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
        -artifact_prefix="$CORPUS/artifacts/$target/" > "$CORPUS/$target.log" 2>&1; then
      tail -n 80 "$CORPUS/$target.log" >&2
      echo "sanitize: $target failed; the input is in $CORPUS/artifacts/$target/" >&2
      exit 1
    fi
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$CORPUS/$target.log" | tr '\n' ' '
    echo "corpus $(ls "$dir" | wc -l) files"
  done
  echo "sanitize: fuzzing took $(( $(date +%s) - start )) s"
  reports "fuzzing"
fi
echo "sanitize: clean"

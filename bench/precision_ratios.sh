#!/usr/bin/env bash
# Decode speed of quantized models relative to fp32, measured in one run:
# each round benches every model in turn (2 threads by default, each bench
# waiting for a quiet CPU), then prints per-round ratios and their median.
#
# usage: bench/precision_ratios.sh FP32_MODEL MODEL... [-- ROUNDS THREADS]
set -euo pipefail
XFMR=${XFMR:-$(dirname "$0")/../build/bin/xfmr}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
models=("$@")
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $THREADS threads, $ROUNDS rounds, prompt 128, 64 decode steps"
for r in $(seq "$ROUNDS"); do
  for m in "${models[@]}"; do
    "$XFMR" bench "$m" --threads "$THREADS" --prompt-len 128 --gen 64 --reps 3 --quiet-wait 60 --json
  done
done | python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin if l.strip()]
models = list(dict.fromkeys(r["model"] for r in runs))
base = models[0]
rounds = [runs[i:i + len(models)] for i in range(0, len(runs), len(models))]
for m in models:
    d = [next(r for r in rd if r["model"] == m)["decode_ms_p50"] for rd in rounds]
    t = [next(r for r in rd if r["model"] == m)["ttft_ms_p50"] for rd in rounds]
    ratio = [next(r for r in rd if r["model"] == base)["decode_ms_p50"] / x for rd, x in zip(rounds, d)]
    print(f"{m}: decode {statistics.median(d):.2f} ms ({min(d):.2f}-{max(d):.2f}), prefill {statistics.median(t):.1f} ms, "
          f"{statistics.median(ratio):.2f}x faster than {base} (per-round {min(ratio):.2f}-{max(ratio):.2f})")
'

#!/usr/bin/env bash
# End-to-end latency of a compiled model: `xfmr bench` ROUNDS times at each
# thread count, each run waiting (up to 60 s) for other processes to go
# under 5% of a core, then the median and spread of the runs' p50s.
#
# usage: bench/e2e_latency.sh COMPILED_MODEL [ROUNDS=5] [THREADS="1 2"] [PROMPT=128] [GEN=64]
set -euo pipefail
MODEL=${1:?usage: e2e_latency.sh COMPILED_MODEL [ROUNDS] [THREADS] [PROMPT] [GEN]}
ROUNDS=${2:-5}
THREADS=${3:-"1 2"}
PROMPT=${4:-128}
GEN=${5:-64}
XFMR=${XFMR:-$(dirname "$0")/../build/bin/xfmr}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "model: $MODEL, prompt $PROMPT tokens, $GEN decode steps, $ROUNDS rounds"
for t in $THREADS; do
  out=()
  for r in $(seq "$ROUNDS"); do
    out+=("$("$XFMR" bench "$MODEL" --threads "$t" --prompt-len "$PROMPT" --gen "$GEN" --reps 3 --quiet-wait 60 --json)")
  done
  printf '%s\n' "${out[@]}" | python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin if l.strip()]
def s(key):
    v = sorted(r[key] for r in runs)
    return f"{statistics.median(v):7.2f} ms (min {v[0]:.2f}, max {v[-1]:.2f})"
busy = max(r["busy_cores_before"] for r in runs)
t, ttft, d50, d99 = runs[0]["threads"], s("ttft_ms_p50"), s("decode_ms_p50"), s("decode_ms_p99")
print(f"threads {t}: prefill/TTFT p50 {ttft} | decode p50 {d50} | decode p99 {d99} | max other load {busy:.2f} cores")
'
done

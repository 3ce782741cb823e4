#!/usr/bin/env bash
# The issue-5 latency report: per model, in interleaved rounds (each bench
# waits for other processes to use < 5% of a core), decode as the peers
# were measured (8-token prompt, then 64 greedy tokens) with its achieved
# bandwidth beside the built-in probe of the same size, and the prefill of
# a 128-token prompt. Prints medians over the rounds with the min-max
# spread, as a markdown table.
#
# usage: bench/latency_report.sh MODEL...   (ROUNDS=5 THREADS=2 by default)
set -euo pipefail
XFMR=${XFMR:-$(dirname "$0")/../build/bin/xfmr}
ROUNDS=${ROUNDS:-5}
THREADS=${THREADS:-2}
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $THREADS threads, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  for m in "$@"; do
    echo "decode $("$XFMR" bench "$m" --threads "$THREADS" --prompt-len 8 --gen 64 --reps 3 --quiet-wait 60 --no-profile --json)"
    echo "prefill $("$XFMR" bench "$m" --threads "$THREADS" --prompt-len 128 --gen 1 --reps 5 --quiet-wait 60 --no-profile --json)"
  done
done | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    kind, js = line.split(" ", 1)
    r = json.loads(js)
    runs.setdefault((r["model"], kind), []).append(r)
models = list(dict.fromkeys(m for m, _ in runs))
def cell(v, fmt):
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"
print("| model | decode ms/token p50 | p99/p50 | GB/s | probe GB/s | share of probe | prefill 128 ms |")
print("|---|---|---|---|---|---|---|")
for m in models:
    d, p = runs[(m, "decode")], runs[(m, "prefill")]
    print("| " + " | ".join([
        m,
        cell([r["decode_ms_p50"] for r in d], "{:.2f}"),
        cell([r["decode_ms_p99"] / r["decode_ms_p50"] for r in d], "{:.2f}"),
        cell([r["decode_gb_per_s"] for r in d], "{:.1f}"),
        cell([r["probe_gb_per_s"] for r in d], "{:.1f}"),
        cell([100 * r["bandwidth_share"] for r in d], "{:.0f}%"),
        cell([r["ttft_ms_p50"] for r in p], "{:.1f}"),
    ]) + " |")
'

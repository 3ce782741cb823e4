#!/usr/bin/env bash
# The README's Llama table: ROUNDS interleaved rounds of each compiled
# TinyLlama-shaped model's decode (8-token prompt, 32 steps, 3 reps, with the
# bandwidth probe of the same run), then int8's 128-token prefill; medians
# and ranges at the end. Usage: bench/llama_rounds.sh DIR_WITH_bf16_int8_int4
# (compiled models DIR/bf16, DIR/int8, DIR/int4).
set -euo pipefail
DIR=${1:?usage: bench/llama_rounds.sh DIR}
ROUNDS=${ROUNDS:-5}
XFMR=${XFMR:-$(dirname "$0")/../build/bin/xfmr}
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
  for m in bf16 int8 int4; do
    echo "round $r $m"
    "$XFMR" bench "$DIR/$m" --prompt-len 8 --gen 32 --reps 3 --no-profile 2>&1 |
      grep -E 'decode  |probe|other load'
  done
  echo "round $r int8 prefill"
  "$XFMR" bench "$DIR/int8" --prompt-len 128 --gen 4 --reps 3 --no-profile 2>&1 |
    grep -E 'first token|other load'
done | tee "$out"
python3 - "$out" <<'PY'
import re, statistics, sys
cur, d = None, {}
for l in open(sys.argv[1]):
    m = re.match(r'round \d+ (\S+)( prefill)?', l)
    if m:
        cur = m.group(1) + (' prefill' if m.group(2) else '')
        continue
    for key, pat in (('decode ms', r'decode\s+p50\s+([\d.]+) ms'),
                     ('of probe %', r'reaches (\d+)% of it'),
                     ('prefill ms', r'first token\s+p50\s+([\d.]+) ms')):
        m = re.search(pat, l)
        if m:
            d.setdefault((cur, key), []).append(float(m.group(1)))
for (model, key), v in d.items():
    print(f"{model:14s} {key:11s} median {statistics.median(v):8.1f}  range {min(v):.1f}-{max(v):.1f}")
PY
rm -f "$out"

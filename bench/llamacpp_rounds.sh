#!/usr/bin/env bash
# xfmr beside llama.cpp on the same machine and the same GGUF files: ROUNDS
# interleaved rounds of llama.cpp's llama-bench (-t 2 -fa 1, pp128 and
# tg32, 3 reps) on each FILE, then `xfmr bench` of the model compiled from
# that file (decode: 8-token prompt, 32 steps, 3 reps, with its bandwidth
# probe; prefill: 128 tokens); medians and ranges at the end. Each run
# waits for a quiet CPU first (under 5% of a core busy).
# Usage: bench/llamacpp_rounds.sh LLAMA_BIN_DIR NAME=FILE.gguf:COMPILED_DIR ...
# (COMPILED_DIR "-": llama.cpp alone on that file).
set -euo pipefail
BIN=${1:?usage: bench/llamacpp_rounds.sh LLAMA_BIN_DIR NAME=FILE:OUT ...}
shift
ROUNDS=${ROUNDS:-5}
XFMR=${XFMR:-$(dirname "$0")/../build/bin/xfmr}
quiet() { # wait (up to 60 s) until the last second's load is under 5% of a core
  for _ in $(seq 60); do
    read -r _ a b c d rest < /proc/stat; t1=$((a + b + c + d)); i1=$d
    sleep 1
    read -r _ a b c d rest < /proc/stat; t2=$((a + b + c + d)); i2=$d
    busy=$(( (t2 - t1) - (i2 - i1) ))
    [ $(( busy * 100 )) -lt $(( 5 * (t2 - t1) / $(nproc) )) ] && return 0
  done
}
out=$(mktemp)
for r in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    name=${spec%%=*}; rest=${spec#*=}; file=${rest%%:*}; model=${rest#*:}
    quiet
    echo "round $r $name llama.cpp"
    "$BIN/llama-bench" -m "$file" -t 2 -r 3 -fa 1 -p 128 -n 32 -o csv 2>/dev/null
    [ "$model" = - ] && continue # llama.cpp only (a type xfmr does not read yet)
    quiet
    echo "round $r $name xfmr"
    "$XFMR" bench "$model" --prompt-len 8 --gen 32 --reps 3 --no-profile 2>&1 |
      grep -E 'decode  |probe'
    quiet
    "$XFMR" bench "$model" --prompt-len 128 --gen 4 --reps 3 --no-profile 2>&1 |
      grep -E 'first token'
  done
done | tee "$out"
python3 - "$out" <<'PY'
import csv, io, re, statistics, sys
cur, d, header = None, {}, None
for l in open(sys.argv[1]):
    m = re.match(r'round \d+ (\S+) (\S+)', l)
    if m:
        cur = (m.group(1), m.group(2))
        continue
    if l.startswith('build_commit,'):
        header = next(csv.reader(io.StringIO(l)))
        continue
    if cur and cur[1] == 'llama.cpp' and l.startswith('"') and header:
        row = dict(zip(header, next(csv.reader(io.StringIO(l)))))
        ts = float(row['avg_ts'])  # tokens/s, mean of the reps
        if row['n_gen'] != '0':
            d.setdefault((cur[0], 'llama.cpp', 'decode ms'), []).append(1000.0 / ts)
        else:
            d.setdefault((cur[0], 'llama.cpp', 'prefill ms'), []).append(
                1000.0 * int(row['n_prompt']) / ts)
        continue
    for key, pat in (('decode ms', r'decode\s+p50\s+([\d.]+) ms'),
                     ('of probe %', r'reaches (\d+)% of it'),
                     ('prefill ms', r'first token\s+p50\s+([\d.]+) ms')):
        m = re.search(pat, l)
        if m and cur:
            d.setdefault((cur[0], 'xfmr', key), []).append(float(m.group(1)))
for (name, engine, key), v in sorted(d.items()):
    print(f"{name:10s} {engine:9s} {key:11s} median {statistics.median(v):8.1f}  range {min(v):.1f}-{max(v):.1f}  (n={len(v)})")
PY
rm -f "$out"

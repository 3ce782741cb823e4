#!/usr/bin/env bash
# The Llama-family job: a TinyLlama-1.1B-shaped model (22 layers, 2048 wide,
# 32 heads over 4 KV heads, MLP 5632, vocabulary 32000, context 2048) with
# random weights (seed 1234, F16) and a real SentencePiece-style
# tokenizer.json, created once (2.2 GB), compiled at PRECISION (default
# int8), then generation and `xfmr bench` (decode against the bandwidth
# probe, prefill of 128 tokens). Its weights do not fit in any L3, so this
# is the model that shows decode at the DRAM roofline.
set -euo pipefail
cd "$(dirname "$0")/.."
PRECISION=${PRECISION:-int8}
bash scripts/setup.sh
bash scripts/build.sh
XFMR=build/bin/xfmr
MODEL=models/tinyllama-random
if [ ! -s "$MODEL/config.json" ]; then
  "$XFMR" init-model "$MODEL" --family llama --seed 1234
fi
"$XFMR" compile "$MODEL" -o "models/tinyllama-random-$PRECISION.xfmr" --precision "$PRECISION"
"$XFMR" run "models/tinyllama-random-$PRECISION.xfmr" -p "The compiler turned the model into" -n 16 "$@"
"$XFMR" bench "models/tinyllama-random-$PRECISION.xfmr" --prompt-len 128 --gen 32 --reps 3

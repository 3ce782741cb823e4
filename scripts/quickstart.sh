#!/usr/bin/env bash
# The main job: set up, build, create the default model (a GPT-2 small with
# random weights, seed 1234, and the real GPT-2 tokenizer) once, compile it
# for this CPU and generate text, printing the latency.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
XFMR=build/bin/xfmr
MODEL=models/gpt2-random
if [ ! -s "$MODEL/model.safetensors" ]; then
  "$XFMR" init-model "$MODEL" --seed 1234
fi
cp third_party/gpt2-tokenizer/vocab.json third_party/gpt2-tokenizer/merges.txt "$MODEL/"
"$XFMR" compile "$MODEL" -o models/gpt2-random.xfmr
"$XFMR" run models/gpt2-random.xfmr -p "The compiler turned the model into" -n 32 "$@"

#!/usr/bin/env bash
# make_corpus.sh BUILD_DIR OUT_DIR: seed corpora of real files for the fuzz
# targets, one folder per target (OUT_DIR/fuzz_safetensors, ...), made with
# BUILD_DIR/bin/xfmr (any build: only its output is used) and the real GPT-2
# tokenizer of third_party/gpt2-tokenizer (scripts/setup.sh fetches it).
#   fuzz_safetensors, fuzz_config: `xfmr init-model` tiny models (1 and 2
#     layers) and their F16 and BF16 conversions (same header, data halved).
#   fuzz_manifest: manifest.txt of `xfmr compile`s of the tiny model: f32,
#     int8, bf16, int4, an int8 KV cache, max_tokens below the context (so
#     the harness prefills in chunks), split attention.
#   fuzz_tokenizer: VOCAB "\n---\n" MERGES "\n---\n" TEXT (fuzz_tokenizer.cpp):
#     excerpts of GPT-2's files (the first N ids as a JSON object, and the
#     merges whose parts and result are all among them), and the full files.
#   fuzz_hf_tokenizer: TOKENIZER_JSON "\n---\n" CONFIG "\n---\n" TEXT
#     (fuzz_hf_tokenizer.cpp): excerpts of third_party/tokenizers/{llama2,
#     llama3,qwen3} (the first N ids, the merges among them, the added tokens
#     renumbered after them) with their tokenizer_config.json.
#   fuzz_gguf: none here; its seeds are committed (test/fuzz/seeds/fuzz_gguf,
#     written by make_gguf_seeds.py), since gguf_test reads them too.
#   fuzz_tuning_import: `xfmr tune-db export` of `xfmr tune` of the tiny
#     model (--trials 2 --budget 20s), and a copy with its trials dropped.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR OUT_DIR" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XFMR=$(cd "$1" && pwd)/bin/xfmr
OUT=$2
TOK=$ROOT/third_party/gpt2-tokenizer
[ -x "$XFMR" ] || { echo "make_corpus: no $XFMR (build first)" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for t in fuzz_safetensors fuzz_gguf fuzz_config fuzz_manifest fuzz_tokenizer fuzz_hf_tokenizer fuzz_tuning_import; do
  mkdir -p "$OUT/$t"
done

# ---- models: config.json + model.safetensors --------------------------------
"$XFMR" init-model m1 --layers 1 --embd 32 --heads 2 --ctx 16 --vocab 64 --seed 3 > /dev/null
"$XFMR" init-model m2 --layers 2 --embd 32 --heads 4 --ctx 32 --vocab 96 --seed 4 > /dev/null
"$XFMR" init-model m0 --layers 1 --embd 8 --heads 1 --ctx 4 --vocab 8 --seed 5 > /dev/null
python3 - "$work" <<'PY'
# F16 and BF16 copies of each model's safetensors: the header's dtypes and
# offsets rewritten, each value converted (f16: struct's 'e'; bf16: the f32's
# high half, rounded to nearest even).
import json, struct, sys, os
work = sys.argv[1]
for m in ("m0", "m1", "m2"):
    raw = open(os.path.join(work, m, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    for dtype in ("F16", "BF16"):
        out_header, out_data = {}, bytearray()
        for name, t in header.items():
            if name == "__metadata__":
                out_header[name] = t
                continue
            b, e = t["data_offsets"]
            vals = struct.unpack("<%df" % ((e - b) // 4), data[b:e])
            begin = len(out_data)
            for v in vals:
                if dtype == "F16":
                    out_data += struct.pack("<e", v)
                else:
                    u = struct.unpack("<I", struct.pack("<f", v))[0]
                    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
                    out_data += struct.pack("<H", u & 0xFFFF)
            out_header[name] = {"dtype": dtype, "shape": t["shape"],
                                "data_offsets": [begin, len(out_data)]}
        h = json.dumps(out_header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        path = os.path.join(work, "%s-%s.safetensors" % (m, dtype.lower()))
        open(path, "wb").write(struct.pack("<Q", len(h)) + h + bytes(out_data))
PY
for m in m0 m1 m2; do
  cp $m/model.safetensors "$OUT/fuzz_safetensors/$m-f32.safetensors"
  cp $m-f16.safetensors $m-bf16.safetensors "$OUT/fuzz_safetensors/"
  cp $m/config.json "$OUT/fuzz_config/$m-config.json"
done

# ---- compiled models: manifest.txt ------------------------------------------
compile() { # NAME MODEL ARGS...
  local name=$1 model=$2
  shift 2
  "$XFMR" compile "$model" -o "c-$name" "$@" > /dev/null
  cp "c-$name/manifest.txt" "$OUT/fuzz_manifest/$name.manifest.txt"
}
compile f32 m1
compile int8 m1 --precision int8
compile bf16 m1 --precision bf16
compile int4 m1 --precision int4 --group-size 32
compile kv-int8 m1 --precision int8 --kv-precision int8
compile kv-f16-chunks m1 --kv-precision f16 --max-tokens 4
compile splits-2layers m2 --attention-splits 2 --max-tokens 8

# ---- the GPT-2 tokenizer ----------------------------------------------------
if [ -s "$TOK/vocab.json" ] && [ -s "$TOK/merges.txt" ]; then
  python3 - "$TOK" "$OUT/fuzz_tokenizer" <<'PY'
import json, sys, os
tok, out = sys.argv[1], sys.argv[2]
vocab = json.load(open(os.path.join(tok, "vocab.json"), encoding="utf-8"))
merges = open(os.path.join(tok, "merges.txt"), encoding="utf-8").read().split("\n")
text = ("The compiler turned the model into kernels. Hello, world!\n"
        "  It's 2026: caf\u00e9 \u20ac12.50 \u2014 na\u00efve r\u00e9sum\u00e9s\t\u65e5\u672c\u8a9e ok?\n")
sep = "\n---\n"
for n in (257, 300, 600, 1500):
    part = {t: i for t, i in vocab.items() if i < n}
    lines = [merges[0]] if merges and merges[0].startswith("#version") else []
    for line in merges:
        p = line.split(" ")
        if len(p) == 2 and p[0] in part and p[1] in part and p[0] + p[1] in part:
            lines.append(line)
    body = json.dumps(part, ensure_ascii=False) + sep + "\n".join(lines) + "\n" + sep + text
    open(os.path.join(out, "gpt2-first-%d.txt" % n), "w", encoding="utf-8").write(body)
full = open(os.path.join(tok, "vocab.json"), encoding="utf-8").read()
mtxt = open(os.path.join(tok, "merges.txt"), encoding="utf-8").read()
open(os.path.join(out, "gpt2-full.txt"), "w", encoding="utf-8").write(full + sep + mtxt + sep + text)
PY
else
  echo "make_corpus: no GPT-2 tokenizer in $TOK (scripts/setup.sh fetches it): tokenizer seeds skipped" >&2
fi

# ---- Hugging Face tokenizer.json files ------------------------------------------
HF=$ROOT/third_party/tokenizers
if [ -s "$HF/llama2/tokenizer.json" ]; then
  python3 - "$HF" "$OUT/fuzz_hf_tokenizer" <<'PY'
import json, sys, os
hf, out = sys.argv[1], sys.argv[2]
text = ("<s>The compiler turned the model into kernels. Hello, world!</s>\n"
        "  It's 2026: caf\u00e9 \u20ac12.50 \u2014 na\u00efve r\u00e9sum\u00e9s\t\u65e5\u672c\u8a9e ok?\n"
        "<|begin_of_text|><|im_start|>user \U0001F44B\u200d\U0001F30D 12345\n\n\n")
sep = "\n---\n"
for name in ("llama2", "llama3", "qwen3"):
    j = json.load(open(os.path.join(hf, name, "tokenizer.json"), encoding="utf-8"))
    config = open(os.path.join(hf, name, "tokenizer_config.json"), encoding="utf-8").read()
    vocab, merges = j["model"]["vocab"], j["model"]["merges"]
    for n in (300, 1000):
        part = {t: i for t, i in vocab.items() if i < n}
        def pair(m):
            return m.split(" ") if isinstance(m, str) else m
        keep = [m for m in merges if len(pair(m)) == 2 and all(p in part for p in pair(m))
                and "".join(pair(m)) in part]
        added, renumber = [], {}
        for a in j["added_tokens"]:
            a = dict(a)
            if a["id"] >= n and a["content"] not in part:
                renumber[a["id"]] = n + len(renumber)
                a["id"] = renumber[a["id"]]
            elif a["id"] >= n:
                continue
            added.append(a)
        small = dict(j, added_tokens=added, model=dict(j["model"], vocab=part, merges=keep))
        if small.get("post_processor") and small["post_processor"].get("type") == "TemplateProcessing":
            for v in small["post_processor"]["special_tokens"].values():
                v["ids"] = [renumber.get(i, i) for i in v["ids"]]
        body = json.dumps(small, ensure_ascii=False) + sep + config + sep + text
        open(os.path.join(out, "%s-first-%d.txt" % (name, n)), "w", encoding="utf-8").write(body)
PY
else
  echo "make_corpus: no tokenizers in $HF (scripts/setup.sh fetches them): tokenizer.json seeds skipped" >&2
fi

# ---- a tuning-DB export -------------------------------------------------------
"$XFMR" tune m1 --trials 2 --budget 20s --db t.db > /dev/null 2>&1
"$XFMR" tune-db export t.db "$OUT/fuzz_tuning_import/tuned-m1.json" > /dev/null
python3 - "$OUT/fuzz_tuning_import" <<'PY'
import json, sys, os
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "tuned-m1.json")))
for r in doc["records"]:
    r.pop("trials", None)
doc["records"] = doc["records"][:2]
json.dump(doc, open(os.path.join(d, "tuned-m1-two-no-trials.json"), "w"), indent=1)
PY

for t in "$OUT"/*/; do
  echo "make_corpus: $(ls "$t" | wc -l) seeds in $t"
done

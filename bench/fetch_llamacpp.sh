#!/usr/bin/env bash
# Builds llama.cpp's own llama-bench and llama-quantize on this machine, so
# the peer runs on the same CPU as xfmr (PEERS.md's figures come from other
# machines). The source is the git bundle the npm package node-llama-cpp
# ships (npm is the registry these machines reach); GGML_NATIVE, as
# PEERS.md's build. Usage: bench/fetch_llamacpp.sh [DIR] (default
# build/llamacpp); prints the directory holding the two binaries.
set -euo pipefail
DIR=${1:-$(dirname "$0")/../build/llamacpp}
VERSION=${NODE_LLAMA_CPP_VERSION:-3.22.1}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ ! -x "$DIR/build/bin/llama-bench" ]; then
  (cd "$DIR" && npm pack --silent "node-llama-cpp@$VERSION" >/dev/null &&
     mkdir -p pkg && tar xzf "node-llama-cpp-$VERSION.tgz" -C pkg)
  rm -rf "$DIR/src" && git -c advice.detachedHead=false clone -q "$DIR/pkg/package/llama/gitRelease.bundle" "$DIR/src"
  cmake -S "$DIR/src" -B "$DIR/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF >/dev/null 2>&1
  cmake --build "$DIR/build" --target llama-bench llama-quantize -j2 >/dev/null
fi
echo "$DIR/build/bin"

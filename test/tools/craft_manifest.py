#!/usr/bin/env python3
"""Copies a compiled model and edits its manifest.txt in one named way, as
an attacker or a careless user would (for lit tests of the runtime's checks).

usage: craft_manifest.py KIND SRC_OUT DST_OUT
"""
import os
import re
import shutil
import sys


def main():
    kind, src, dst = sys.argv[1:4]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    path = os.path.join(dst, "manifest.txt")
    lines = open(path).read().split("\n")

    def first(prefix):
        return next(i for i, l in enumerate(lines) if l.startswith(prefix))

    def last(prefix):
        return max(i for i, l in enumerate(lines) if l.startswith(prefix))

    if kind == "index-wrap":  # int32 wrap-around of a weight index
        i = first("dispatch ")
        lines[i] = re.sub(r" w\d+", " w2147483648", lines[i], count=1)
    elif kind == "offset-overflow":  # offset + bytes wraps past weights_bytes
        i = first("weight 1 ")
        f = lines[i].split()
        f[2], f[3] = "9223372036854775744", "128"
        lines[i] = " ".join(f)
    elif kind == "kernel-abort":  # any exported symbol as a kernel
        i = last("kernel ")
        f = lines[i].split()
        lines[i] = " ".join([f[0], f[1], "abort", "rows"])
    elif kind == "kv-redefined":  # the cache resized after dispatches use it
        lines.insert(last("dispatch "), "kv 1 1 1 1 f32")
    elif kind == "weights-bytes-redefined":
        lines.insert(last("weight "), "weights_bytes 64")
    elif kind == "buffer-overflow":  # 16 slots, of which a cache takes two
        i = first("dispatch ")
        f = lines[i].split()
        lines[i] = " ".join(f[:3] + ["c0"] + ["a0"] * 14 + [f[-1]])
    elif kind == "max-tokens-huge":
        lines[first("max_tokens ")] = "max_tokens 1152921504606846976"
    elif kind == "vocab-huge":
        lines[first("vocab ")] = "vocab 1152921504606846976"
    elif kind == "slot-huge":
        lines[first("slot 0 ")] = "slot 0 1152921504606846976"
    elif kind == "kv-huge":
        lines[first("kv ")] = "kv 4096 4096 16777216 65536 f32"
    elif kind == "context-past-positions":  # more positions than wpe has rows
        f = lines[first("kv ")].split()
        f[3] = str(int(f[3]) * 2)
        lines[first("kv ")] = " ".join(f)
    elif kind == "negative":
        lines[first("max_tokens ")] = "max_tokens -5"
    elif kind == "version-1":
        lines[0] = "xfmr-manifest 1"
    elif kind == "no-checksum":
        del lines[first("weights_checksum ")]
    elif kind == "edited":  # well-formed, but not what kernels.so was compiled with
        i = first("model ")
        f = lines[i].split()
        lines[i] = " ".join(f[:2] + [str(int(f[2]) + 1)])
    else:
        sys.exit("unknown kind " + kind)
    open(path, "w").write("\n".join(lines))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Corrupts a valid GPT-2 model directory in one named way (for lit tests).

usage: make_bad_model.py KIND SRC_DIR DST_DIR
"""
import json
import os
import shutil
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write(path, header, body, header_len=None):
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h) if header_len is None else header_len))
        f.write(h)
        f.write(body)


def main():
    kind, src, dst = sys.argv[1:4]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    st = os.path.join(dst, "model.safetensors")
    header, body = read(st)
    name = "h.0.attn.c_attn.weight"
    if kind == "missing-file":
        os.remove(st)
    elif kind == "missing-config":
        os.remove(os.path.join(dst, "config.json"))
    elif kind == "truncated":
        with open(st, "r+b") as f:
            f.truncate(os.path.getsize(st) - 1000)
    elif kind == "tiny":
        with open(st, "wb") as f:
            f.write(b"\x01\x02")
    elif kind == "header-too-long":
        write(st, header, body, header_len=1 << 40)
    elif kind == "bad-json":
        with open(st, "wb") as f:
            f.write(struct.pack("<Q", 8) + b"{nojson}")
    elif kind == "offset-out-of-range":
        b, e = header[name]["data_offsets"]
        header[name]["data_offsets"] = [b + len(body), e + len(body)]
        write(st, header, body)
    elif kind == "overlap":
        other = "h.0.attn.c_proj.weight"
        b, e = header[other]["data_offsets"]
        header[other]["data_offsets"] = [b - 64, e - 64]
        write(st, header, body)
    elif kind == "unknown-dtype":
        header[name]["dtype"] = "Q7"
        write(st, header, body)
    elif kind == "wrong-shape":
        cfg = json.load(open(os.path.join(dst, "config.json")))
        cfg["n_embd"] = cfg["n_embd"] * 2
        cfg["n_head"] = cfg["n_head"]
        json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
    elif kind == "missing-tensor":
        del header["ln_f.bias"]
        write(st, header, body)
    elif kind == "deep-json-config":
        depth = 200000
        with open(os.path.join(dst, "config.json"), "w") as f:
            f.write('{"n_layer": ' + "[" * depth + "]" * depth + "}")
    elif kind == "deep-json-header":
        depth = 200000
        h = ('{"x": ' + "[" * depth + "]" * depth + "}").encode()
        with open(st, "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h)
    elif kind == "many-layers":
        # Within the per-field bound, but far more weights than the file has.
        cfg = json.load(open(os.path.join(dst, "config.json")))
        cfg["n_layer"] = 1000
        json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
    elif kind == "huge-layers":
        cfg = json.load(open(os.path.join(dst, "config.json")))
        cfg["n_layer"] = 1 << 24
        json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
    elif kind in ("config-dir", "safetensors-dir", "vocab-dir"):
        path = {"config-dir": os.path.join(dst, "config.json"), "safetensors-dir": st,
                "vocab-dir": os.path.join(dst, "vocab.json")}[kind]
        if os.path.exists(path):
            os.remove(path)
        os.mkdir(path)
    elif kind in ("config-fifo", "safetensors-fifo", "merges-fifo"):
        path = {"config-fifo": os.path.join(dst, "config.json"), "safetensors-fifo": st,
                "merges-fifo": os.path.join(dst, "merges.txt")}[kind]
        if os.path.exists(path):
            os.remove(path)
        os.mkfifo(path)
    elif kind == "vocab-dev-zero":
        path = os.path.join(dst, "vocab.json")
        if os.path.exists(path):
            os.remove(path)
        os.symlink("/dev/zero", path)
    elif kind == "zero-size-overlap":
        # a, then a zero-size tensor inside a, then b moved to overlap a: a
        # check against the previous tensor only sees the zero-size one.
        a, b = "h.0.attn.c_attn.weight", "h.0.attn.c_proj.weight"
        ba, ea = header[a]["data_offsets"]
        bb, eb = header[b]["data_offsets"]
        header["zero"] = {"dtype": "F32", "shape": [0], "data_offsets": [ba + 8, ba + 8]}
        header[b]["data_offsets"] = [ea - 64, ea - 64 + (eb - bb)]
        write(st, header, body)
    elif kind == "nan-weights":
        b, e = header[name]["data_offsets"]
        body = body[:b] + struct.pack("<f", float("nan")) * ((e - b) // 4) + body[e:]
        write(st, header, body)
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()

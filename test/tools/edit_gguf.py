#!/usr/bin/env python3
"""Rewrites a GGUF v3 file with one thing wrong, for the malformed-file
tests of gguf-gpt2.test:

  edit_gguf.py IN OUT drop-key KEY
  edit_gguf.py IN OUT swap-ne TENSOR           (a 2-D tensor's ne reversed)
  edit_gguf.py IN OUT retype TENSOR TYPE VALUES BYTES
                                               (ggml type TYPE, zero blocks of
                                                VALUES values in BYTES bytes)
"""
import struct, sys

SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

def value_end(b, at, t):
    if t in SCALAR:
        return at + SCALAR[t]
    if t == 8:
        (n,) = struct.unpack_from('<Q', b, at)
        return at + 8 + n
    if t == 9:
        et, n = struct.unpack_from('<IQ', b, at)
        at += 12
        for _ in range(n):
            at = value_end(b, at, et)
        return at
    raise SystemExit('unknown value type %d' % t)

def string(b, at):
    (n,) = struct.unpack_from('<Q', b, at)
    return b[at + 8:at + 8 + n].decode(), at + 8 + n

def parse(b):
    assert b[:4] == b'GGUF'
    version, nt, nkv = struct.unpack_from('<IQQ', b, 4)
    at, kvs, align = 24, [], 32
    for _ in range(nkv):
        start = at
        key, at = string(b, at)
        (t,) = struct.unpack_from('<I', b, at)
        end = value_end(b, at + 4, t)
        if key == 'general.alignment':
            (align,) = struct.unpack_from('<I', b, at + 4)
        kvs.append((key, b[start:end]))
        at = end
    infos = []
    for _ in range(nt):
        name, at = string(b, at)
        (nd,) = struct.unpack_from('<I', b, at)
        ne = list(struct.unpack_from('<%dq' % nd, b, at + 4))
        at += 4 + 8 * nd
        t, off = struct.unpack_from('<IQ', b, at)
        at += 12
        infos.append([name, ne, t, off])
    base = (at + align - 1) // align * align
    offs = sorted(i[3] for i in infos) + [len(b) - base]
    tensors = []
    for name, ne, t, off in infos:
        nxt = min(o for o in offs if o > off) if any(o > off for o in offs) else len(b) - base
        tensors.append([name, ne, t, b[base + off:base + nxt]])
    return version, kvs, tensors, align

def write(path, version, kvs, tensors, align):
    out = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(k for _, k in kvs)
    off, datas = 0, []
    for name, ne, t, data in tensors:
        nb = name.encode()
        out += struct.pack('<Q', len(nb)) + nb + struct.pack('<I', len(ne))
        out += b''.join(struct.pack('<q', d) for d in ne) + struct.pack('<IQ', t, off)
        datas.append((off, data))
        off = (off + len(data) + align - 1) // align * align
    out += b'\0' * ((-len(out)) % align)
    base = len(out)
    for o, d in datas:
        out += b'\0' * (base + o - len(out)) + d
    open(path, 'wb').write(out)

src, dst, op = sys.argv[1], sys.argv[2], sys.argv[3]
version, kvs, tensors, align = parse(open(src, 'rb').read())
if op == 'drop-key':
    kvs = [(k, v) for k, v in kvs if k != sys.argv[4]]
else:
    t = next(t for t in tensors if t[0] == sys.argv[4])
    if op == 'swap-ne':
        t[1] = t[1][::-1]
    elif op == 'retype':
        typ, values, nbytes = (int(x) for x in sys.argv[5:8])
        n = 1
        for d in t[1]:
            n *= d
        t[2], t[3] = typ, b'\0' * (n // values * nbytes)
    else:
        raise SystemExit('unknown edit ' + op)
write(dst, version, kvs, tensors, align)

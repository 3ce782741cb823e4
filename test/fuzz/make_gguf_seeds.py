#!/usr/bin/env python3
"""Writes the committed seeds of fuzz_gguf (test/fuzz/seeds/fuzz_gguf/):
a small Llama-like GGUF v3 (llama.* keys, a tokenizer as llama.cpp stores
one: tokens, scores, token types, merges (which a SentencePiece
reader ignores), bos/eos; F32, F16, Q8_0, Q4_0
tensors, alignment 32), a v2 file with metadata only, a metadata-only
byte-level tokenizer (gpt2, tokenizer.ggml.pre qwen2), and a one-layer
GPT-2 (gpt2.* keys, llama.cpp's GPT-2 tensor names and [out, in] linears in
F32, F16, Q8_0, Q4_0, a gpt-2 tokenizer). Deterministic."""
import struct, sys, os

def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
def kv(key, t, payload): return s(key) + struct.pack('<I', t) + payload
U32, I32, F32, BOOL, STR, ARR, U64 = 4, 5, 6, 7, 8, 9, 10
def arr(et, items, pack): return struct.pack('<IQ', et, len(items)) + b''.join(pack(i) for i in items)

def gguf(version, kvs, tensors, align=32):
    out = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs)
    off, infos, datas = 0, b'', []
    for name, ne, typ, data in tensors:
        infos += s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<q', d) for d in ne)
        infos += struct.pack('<IQ', typ, off)
        datas.append((off, data)); off = (off + len(data) + align - 1) // align * align
    out += infos
    out += b'\0' * ((-len(out)) % align)
    base = len(out)
    for o, d in datas:
        out += b'\0' * (base + o - len(out)) + d
    return out

tokens = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % i for i in range(8)] + ['▁a', '▁b', 'ab']
kvs = [
    kv('general.architecture', STR, s('llama')),
    kv('general.alignment', U32, struct.pack('<I', 32)),
    kv('llama.context_length', U32, struct.pack('<I', 64)),
    kv('llama.embedding_length', U32, struct.pack('<I', 32)),
    kv('llama.block_count', U32, struct.pack('<I', 1)),
    kv('llama.feed_forward_length', U32, struct.pack('<I', 64)),
    kv('llama.attention.head_count', U32, struct.pack('<I', 4)),
    kv('llama.attention.head_count_kv', U32, struct.pack('<I', 2)),
    kv('llama.rope.freq_base', F32, struct.pack('<f', 10000.0)),
    kv('llama.attention.layer_norm_rms_epsilon', F32, struct.pack('<f', 1e-5)),
    kv('tokenizer.ggml.model', STR, s('llama')),
    kv('tokenizer.ggml.tokens', ARR, arr(STR, tokens, s)),
    kv('tokenizer.ggml.scores', ARR, arr(F32, [float(-i) for i in range(len(tokens))], lambda v: struct.pack('<f', v))),
    kv('tokenizer.ggml.token_type', ARR, arr(I32, [2, 3, 3] + [6] * 8 + [1, 1, 1], lambda v: struct.pack('<i', v))),
    kv('tokenizer.ggml.merges', ARR, arr(STR, ['a b'], s)),
    kv('tokenizer.ggml.bos_token_id', U32, struct.pack('<I', 1)),
    kv('tokenizer.ggml.eos_token_id', U32, struct.pack('<I', 2)),
    kv('tokenizer.ggml.add_bos_token', BOOL, b'\x01'),
    kv('tokenizer.chat_template', STR, s('{% for m in messages %}{{ m.content }}{% endfor %}')),
]
q8 = b''.join(struct.pack('<e', 0.01) + bytes((i * 5) & 0xFF for i in range(32)) for _ in range(2))
q4 = b''.join(struct.pack('<e', 0.02) + bytes((i * 3) & 0xFF for i in range(16)) for _ in range(2))
tensors = [
    ('token_embd.weight', [32, len(tokens)], 0,
     b''.join(struct.pack('<f', (i % 7) / 7) for i in range(32 * len(tokens)))),
    ('output_norm.weight', [32], 1, b''.join(struct.pack('<e', 1.0) for _ in range(32))),
    ('blk.0.attn_q.weight', [32, 2], 8, q8),
    ('blk.0.ffn_up.weight', [32, 2], 2, q4),
]
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'seeds', 'fuzz_gguf')
os.makedirs(d, exist_ok=True)
open(os.path.join(d, 'small-llama.gguf'), 'wb').write(gguf(3, kvs, tensors))
open(os.path.join(d, 'metadata-only-v2.gguf'), 'wb').write(gguf(2, kvs[:4], []))
bpe = ['a', 'b', 'ab', '\u0120', '\u0120ab', '<|end|>']
open(os.path.join(d, 'byte-level-tokenizer.gguf'), 'wb').write(gguf(3, [
    kv('tokenizer.ggml.model', STR, s('gpt2')),
    kv('tokenizer.ggml.pre', STR, s('qwen2')),
    kv('tokenizer.ggml.tokens', ARR, arr(STR, bpe, s)),
    kv('tokenizer.ggml.token_type', ARR, arr(I32, [1] * 5 + [3], lambda v: struct.pack('<i', v))),
    kv('tokenizer.ggml.merges', ARR, arr(STR, ['a b', '\u0120 ab'], s)),
    kv('tokenizer.ggml.eos_token_id', U32, struct.pack('<I', 5)),
], []))

def floats(n, fmt='<f'): return b''.join(struct.pack(fmt, ((i * 7) % 11 - 5) / 50) for i in range(n))
def q8_rows(rows, cols): return b''.join(struct.pack('<e', 0.01) + bytes((i * 5 + r) & 0xFF for i in range(32)) for r in range(rows) for _ in range(cols // 32))
def q4_rows(rows, cols): return b''.join(struct.pack('<e', 0.02) + bytes((i * 3 + r) & 0xFF for i in range(16)) for r in range(rows) for _ in range(cols // 32))
E, V, C = 32, len(bpe), 4
ones = b''.join(struct.pack('<f', 1.0) for _ in range(E))
gpt2_tensors = [
    ('token_embd.weight', [E, V], 0, floats(E * V)),
    ('position_embd.weight', [E, C], 0, floats(E * C)),
    ('blk.0.attn_norm.weight', [E], 0, ones), ('blk.0.attn_norm.bias', [E], 0, floats(E)),
    ('blk.0.attn_qkv.weight', [E, 3 * E], 8, q8_rows(3 * E, E)),
    ('blk.0.attn_qkv.bias', [3 * E], 0, floats(3 * E)),
    ('blk.0.attn_output.weight', [E, E], 2, q4_rows(E, E)),
    ('blk.0.attn_output.bias', [E], 0, floats(E)),
    ('blk.0.ffn_norm.weight', [E], 0, ones), ('blk.0.ffn_norm.bias', [E], 0, floats(E)),
    ('blk.0.ffn_up.weight', [E, 4 * E], 1, floats(E * 4 * E, '<e')),
    ('blk.0.ffn_up.bias', [4 * E], 0, floats(4 * E)),
    ('blk.0.ffn_down.weight', [4 * E, E], 8, q8_rows(E, 4 * E)),
    ('blk.0.ffn_down.bias', [E], 0, floats(E)),
    ('output_norm.weight', [E], 0, ones), ('output_norm.bias', [E], 0, floats(E)),
]
open(os.path.join(d, 'small-gpt2.gguf'), 'wb').write(gguf(3, [
    kv('general.architecture', STR, s('gpt2')),
    kv('gpt2.block_count', U32, struct.pack('<I', 1)),
    kv('gpt2.context_length', U32, struct.pack('<I', C)),
    kv('gpt2.embedding_length', U32, struct.pack('<I', E)),
    kv('gpt2.feed_forward_length', U32, struct.pack('<I', 4 * E)),
    kv('gpt2.attention.head_count', U32, struct.pack('<I', 2)),
    kv('gpt2.attention.layer_norm_epsilon', F32, struct.pack('<f', 1e-5)),
    kv('tokenizer.ggml.model', STR, s('gpt2')),
    kv('tokenizer.ggml.pre', STR, s('gpt-2')),
    kv('tokenizer.ggml.tokens', ARR, arr(STR, bpe, s)),
    kv('tokenizer.ggml.token_type', ARR, arr(I32, [1] * 5 + [3], lambda v: struct.pack('<i', v))),
    kv('tokenizer.ggml.merges', ARR, arr(STR, ['a b', '\u0120 ab'], s)),
    kv('tokenizer.ggml.eos_token_id', U32, struct.pack('<I', 5)),
], gpt2_tensors))

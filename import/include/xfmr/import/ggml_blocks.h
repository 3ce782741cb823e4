// llama.cpp's tensor types as bytes: dequantizing every type xfmr reads
// (bit for bit as ggml-quants.c does), the blocks of the types that are
// also xfmr weight schemes handed over as they are (their codes and
// scales, never rounded again), and encoding f32 into them (the writer of
// test files).
//
//   F32, F16, BF16  elements
//   Q8_0  {f16 d, i8 q[32]}                       w = d q
//   Q4_0  {f16 d, u8 q[16]} low nibbles 0..15,    w = d (q - 8)
//         high nibbles 16..31
//   Q4_K  256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins
//         of 8 groups of 32, 128 bytes of nibbles w = (d sc_j) q - (dmin m_j)
//   Q6_K  256 values: 128 bytes of low nibbles, 64 of high bit pairs,
//         16 int8 scales (groups of 16), f16 d   w = (d sc_j) (q - 32)
#ifndef XFMR_IMPORT_GGML_BLOCKS_H
#define XFMR_IMPORT_GGML_BLOCKS_H

#include "xfmr/import/gguf.h"
#include "xfmr/io/quantize.h"

#include <optional>
#include <vector>

namespace xfmr::io {

/// Whether xfmr reads tensors of `type` (the list above).
bool ggmlTypeIsRead(uint32_t type);

/// The `n` values (a multiple of the type's block) at `p`, dequantized.
std::vector<float> dequantizeGGML(const uint8_t *p, size_t n, GGMLType type);

/// The xfmr scheme whose groups are this type's blocks as they are, when
/// there is one.
std::optional<QuantScheme> ggmlStoredScheme(GGMLType type);

/// Group `g` (of the stored scheme's group size) of the row of values
/// whose bytes start at `row`: the file's codes and scales.
void ggmlStoredGroup(const uint8_t *row, int64_t g, GGMLType type, QuantGroup &out);

/// `x` (a multiple of the type's block) encoded as llama.cpp's reference
/// quantizers do; false for a type this writer does not make.
bool encodeGGML(const std::vector<float> &x, GGMLType type, std::vector<uint8_t> *out);

} // namespace xfmr::io

#endif

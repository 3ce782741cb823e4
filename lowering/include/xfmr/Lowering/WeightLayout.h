//===- WeightLayout.h - how a weight is stored for its kernel ---*- C++ -*-===//
//
// A weight's layout in weights.bin follows from its type and its consumer,
// and is computed here for both sides that must agree on it: the kernel
// generators (byte offsets) and the compile driver (packing the numbers).
//
//   Dense         row-major f32 (biases, norms, positional tables).
//   ColumnBlocks  a [K, N] xfmr.linear weight, in blocks of tile_n columns,
//                 each block contiguous so one thread streams it in order:
//                   f32/bf16: [K][tn] elements
//                   int8:     scales[tn], codes[K][tn]; with groups of G
//                             k (Q8_0): per group scales[tn], codes[G][tn]
//                   int8 for VNNI: scales[tn], codes[K/4][tn][4], stored
//                             as q + 128 (unsigned, four k per 32-bit lane)
//                   int4 for VNNI: as int4, codes[G/4][tn/2][4]
//                   bf16 for AVX512-BF16: [K/2][tn][2]
//                   int4:     per group of G rows: scales[tn], (mins[tn]),
//                             codes[G][tn/2] with byte j = col j | col j+tn/2 << 4
//                   K-quants: per super-block of 256 rows a header, then its
//                             groups' codes:
//                     Q4_K    d[tn], dmin[tn] f16, lo[8][tn] (sc & 15 |
//                             (m & 15) << 4), hi[4][tn] (group g's top bits
//                             of sc, m at bits 4 (g / 4) + 0..1, 2..3 of
//                             hi[g % 4]); codes as int4 (or int4 for VNNI)
//                     Q6_K    d[tn] f16, sc[16][tn] i8; per group of 16
//                             low nibbles [16][tn/2] as int4, then top bit
//                             pairs [8][tn/2]: row k's column j at bits
//                             4 (k % 2) + 2 (j >= tn/2) of byte (k/2, j % tn/2)
//                 gated (a `gated` linear's [Wg | Wu]): block b holds gate
//                 columns b tn/2 .. +tn/2 then the same up columns, so one
//                 unit computes both halves of its tn/2 outputs.
//   Rows          a [V, D] table (xfmr.lm_head, xfmr.embedding), one
//                 self-contained row per vocabulary entry, 16-byte padded:
//                   f32/bf16: [D] elements
//                   int8:     scale, codes[D] stored as q + 128 (per
//                             group of G: scale, codes[G])
//                   int4:     per group of G: scale, (min), codes[G/2] with
//                             byte j = elem j | elem j+G/2 << 4
//                   K-quants: per super-block the header above for one
//                             lane, then per group: Q4_K as int4; Q6_K 8
//                             bytes elem j | elem j+8 << 4, 4 bytes with
//                             elem j + 4p at bits 2p
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_WEIGHTLAYOUT_H
#define XFMR_LOWERING_WEIGHTLAYOUT_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "xfmr/io/quantize.h"

#include <functional>
#include <optional>
#include <vector>

namespace mlir::xfmr {

struct WeightLayout {
  enum Kind { Dense, ColumnBlocks, Rows } kind = Dense;
  ::xfmr::io::QuantScheme scheme;
  int64_t rows = 0, cols = 0; // logical shape ([K, N] or [V, D])
  int64_t tileN = 0;          // ColumnBlocks
  bool dot = false;           // ColumnBlocks: k interleaved per 32-bit lane
  bool gated = false;         // ColumnBlocks: gate and up halves per block

  /// ColumnBlocks: the logical column stored at position j of block b.
  int64_t sourceColumn(int64_t block, int64_t j) const;

  int64_t scaleBytes() const { return scheme.f16Scales ? 2 : 4; }
  int64_t elementBytes() const; // f32: 4, bf16: 2 (quantized: 0)
  /// Bytes of one group of one block (ColumnBlocks) or row (Rows): scales
  /// and codes, or for super-blocks its codes only.
  int64_t groupBytes() const;
  /// Super-blocks: the header's bytes per lane (Q4_K 16, Q6_K 18), and all
  /// the bytes of one super-block of a block or row.
  int64_t superHeaderBytes() const;
  int64_t superBytes() const;
  /// ColumnBlocks: bytes of one block of tileN columns.
  int64_t blockBytes() const;
  /// Rows: bytes of one row, padded to 16.
  int64_t rowBytes() const;
  int64_t bytes() const;
  /// A short name for the manifest ("f32", "int8-cols64", "int4g32-rows").
  std::string describe() const;
  bool operator==(const WeightLayout &o) const;
};

/// The quantization scheme a weight tensor type stands for.
::xfmr::io::QuantScheme schemeOf(RankedTensorType type);

/// The layout the kernel of `op` reads operand `index` in; Dense for
/// anything that is not a matrix weight.
WeightLayout layoutOf(Operation *op, unsigned index);

/// The quantized groups of a weight, as its source holds them: group `g`
/// of channel `c` into `out` (ColumnBlocks: output column c, reduction
/// elements g G .. (g + 1) G, the whole K for one scale per channel; Rows:
/// table row c, elements g G ..). A model source quantizes f32 here, or
/// hands over the codes and scales a file already holds (GGUF's blocks),
/// so they are packed without rounding them a second time.
using GroupSource =
    std::function<void(int64_t channel, int64_t group, ::xfmr::io::QuantGroup &out)>;

/// Packs a quantized (int8 / int4) weight into `layout` from its groups.
std::vector<uint8_t> packQuantizedWeight(const GroupSource &groups, const WeightLayout &layout);

/// Packs a logical row-major f32 matrix into `layout` (quantizing it).
std::vector<uint8_t> packWeight(const std::vector<float> &logical,
                                const WeightLayout &layout);

/// The same for a [rows, cols] matrix stored column-major (element (k, n)
/// at w[n * rows + k]), as Hugging Face stores a linear's [out, in] weight:
/// ColumnBlocks then read each column as one stream. Other layouts take the
/// row-major form.
std::vector<uint8_t> packColumnMajorWeight(const float *w, const WeightLayout &layout);

} // namespace mlir::xfmr

#endif

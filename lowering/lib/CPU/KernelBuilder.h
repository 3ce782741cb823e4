//===- KernelBuilder.h - shared helpers of the CPU kernel generators -*- C++ -*-===//
//
// Every CPU kernel has the same ABI (see XfmrLowerKernelsToLoopsPass):
//   (in_0 .. in_k : memref, out : memref, n, pos, begin, end : index)
// A generator receives these values in `KernelArgs` and fills the body of
// the kernel function with memref/scf/vector/arith/math ops.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_CPU_KERNELBUILDER_H
#define XFMR_LOWERING_CPU_KERNELBUILDER_H

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/TypeUtilities.h"
#include "xfmr/IR/XfmrDialect.h"
#include "xfmr/Lowering/WeightLayout.h"

#include <functional>

namespace mlir::xfmr::cpu {

struct KernelArgs {
  SmallVector<Value> inputs; // memrefs, in op operand order (index and cache operands excluded)
  Value kCache, vCache;      // attention only: this layer's [kv_heads, ctx, head_dim]
  Value out;                 // the result memref
  Value n, pos, begin, end;  // index scalars
  bool avx2Dot = false;      // dpbusd by AVX2 (xfmr-lower-kernels-to-loops avx2-dot)
};

/// Small builder vocabulary so generators read like the math they emit.
struct KB {
  ImplicitLocOpBuilder &b;
  /// dpbusd without VNNI: AVX2's vpmaddubsw (u8 x s8 pairs -> i16, which
  /// saturates past 32767) then vpmaddwd by ones (i16 pairs -> i32), per
  /// 256-bit half. 4-bit codes cannot saturate it; int8 codes stored as
  /// q + 128 (`offsetCodes`) go as llama.cpp's sign trick, |q| times x
  /// with q's sign, plus 128 x: each pair sum then fits.
  bool avx2Dot = false;
  explicit KB(ImplicitLocOpBuilder &b, bool avx2Dot = false) : b(b), avx2Dot(avx2Dot) {}

  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value f32(double v) {
    return b.create<arith::ConstantOp>(b.getF32FloatAttr(float(v)));
  }
  Value splat(VectorType t, double v) {
    return b.create<arith::ConstantOp>(
        DenseElementsAttr::get(t, b.getF32FloatAttr(float(v))));
  }
  Value add(Value x, Value y) {
    return isa<IndexType>(x.getType()) ? b.create<arith::AddIOp>(x, y).getResult()
                                       : b.create<arith::AddFOp>(x, y).getResult();
  }
  Value mul(Value x, Value y) {
    return isa<IndexType>(x.getType()) ? b.create<arith::MulIOp>(x, y).getResult()
                                       : b.create<arith::MulFOp>(x, y).getResult();
  }
  Value sub(Value x, Value y) {
    return isa<IndexType>(x.getType()) ? b.create<arith::SubIOp>(x, y).getResult()
                                       : b.create<arith::SubFOp>(x, y).getResult();
  }
  Value div(Value x, Value y) { return b.create<arith::DivFOp>(x, y); }
  Value fma(Value x, Value y, Value acc) {
    return b.create<vector::FMAOp>(x, y, acc);
  }
  Value load(Value mem, ValueRange ix) { return b.create<memref::LoadOp>(mem, ix); }
  void store(Value v, Value mem, ValueRange ix) {
    b.create<memref::StoreOp>(v, mem, ix);
  }
  Value vload(VectorType t, Value mem, ValueRange ix) {
    return b.create<vector::LoadOp>(t, mem, ix);
  }
  void vstore(Value v, Value mem, ValueRange ix) {
    b.create<vector::StoreOp>(v, mem, ix);
  }
  Value bcast(VectorType t, Value s) { return b.create<vector::BroadcastOp>(t, s); }
  Value sum(Value v) {
    return b.create<vector::ReductionOp>(vector::CombiningKind::ADD, v);
  }
  /// A typed view of a byte buffer at a byte offset.
  Value view(Value bytes, Value byteOffset, ArrayRef<int64_t> shape, Type elem) {
    return b.create<memref::ViewOp>(MemRefType::get(shape, elem), bytes,
                                    byteOffset, ValueRange{});
  }
  /// Converts a vector (or scalar) of f32, f16, bf16 or signed i8 to f32.
  Value toF32(Value v) {
    Type e = getElementTypeOrSelf(v.getType());
    if (e.isF32())
      return v;
    Type f32 = b.getF32Type();
    if (auto vt = dyn_cast<VectorType>(v.getType()))
      f32 = VectorType::get(vt.getShape(), f32);
    if (isa<FloatType>(e))
      return b.create<arith::ExtFOp>(f32, v);
    return b.create<arith::SIToFPOp>(f32, v);
  }
  /// acc (i32 lanes) += per lane, the dot product of four unsigned bytes of
  /// `u8` with four signed bytes of `s8` (AVX-512 VNNI vpdpbusd; 128- to
  /// 512-bit vectors of i32).
  Value dpbusd(Value acc, Value u8, Value s8, bool offsetCodes = false) {
    if (avx2Dot)
      return dpbusdAVX2(acc, u8, s8, offsetCodes);
    int64_t bits = cast<VectorType>(acc.getType()).getNumElements() * 32;
    return b.create<LLVM::CallIntrinsicOp>(
                acc.getType(), "llvm.x86.avx512.vpdpbusd." + std::to_string(bits),
                ValueRange{acc, u8, s8})
        .getResult(0);
  }
  Value dpbusdAVX2(Value acc, Value u8, Value s8, bool offsetCodes) {
    auto at = cast<VectorType>(acc.getType());
    const int64_t lanes = at.getNumElements();
    auto i32x8 = VectorType::get({8}, b.getI32Type());
    auto i8x32 = VectorType::get({32}, b.getI8Type());
    auto i16x16 = VectorType::get({16}, b.getI16Type());
    Value ones = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(i16x16, b.getI16IntegerAttr(1)));
    Value out = acc;
    for (int64_t h = 0; h < lanes / 8; ++h) {
      auto half = [&](Value v) -> Value {
        if (lanes == 8)
          return v;
        return b.create<vector::ExtractStridedSliceOp>(v, ArrayRef<int64_t>{h * 8},
                                                       ArrayRef<int64_t>{8},
                                                       ArrayRef<int64_t>{1});
      };
      Value u = b.create<vector::BitCastOp>(i8x32, half(u8));
      Value s = b.create<vector::BitCastOp>(i8x32, half(s8));
      auto madd = [&](Value us, Value ss) -> Value {
        Value pairs = b.create<LLVM::CallIntrinsicOp>(i16x16, "llvm.x86.avx2.pmadd.ub.sw",
                                                      ValueRange{us, ss})
                          .getResult(0);
        return b.create<LLVM::CallIntrinsicOp>(i32x8, "llvm.x86.avx2.pmadd.wd",
                                               ValueRange{pairs, ones})
            .getResult(0);
      };
      Value quads;
      if (!offsetCodes) {
        quads = madd(u, s);
      } else {
        Value top = b.create<arith::ConstantOp>(
            DenseElementsAttr::get(i8x32, b.getIntegerAttr(b.getI8Type(), 0x80)));
        Value q = b.create<arith::XOrIOp>(u, top); // q + 128 -> q
        Value absQ = b.create<math::AbsIOp>(q);    // -128 -> 0x80, read unsigned: 128
        Value signedS = b.create<LLVM::CallIntrinsicOp>(i8x32, "llvm.x86.avx2.psign.b",
                                                        ValueRange{s, q})
                            .getResult(0);
        quads = b.create<arith::AddIOp>(madd(absQ, signedS), madd(top, s));
      }
      Value sum = b.create<arith::AddIOp>(half(acc), quads);
      out = lanes == 8 ? sum
                       : b.create<vector::InsertStridedSliceOp>(sum, out,
                                                                ArrayRef<int64_t>{h * 8},
                                                                ArrayRef<int64_t>{1})
                             .getResult();
    }
    return out;
  }
  /// acc (16 x f32) += per lane, the dot product of a pair of bf16 from each
  /// of `a` and `b` (32 x bf16; AVX512-BF16 vdpbf16ps).
  Value dpbf16ps(Value acc, Value a, Value c) {
    return b.create<LLVM::CallIntrinsicOp>(acc.getType(),
                                           "llvm.x86.avx512bf16.dpbf16ps.512",
                                           ValueRange{acc, a, c})
        .getResult(0);
  }
  /// Bytes stored as q + 128 back to signed q (flip the top bit).
  Value unbias(Value bytes) {
    auto vt = cast<VectorType>(bytes.getType());
    Value top = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(vt, b.getIntegerAttr(vt.getElementType(), 0x80)));
    return b.create<arith::XOrIOp>(bytes, top);
  }
  /// The low and high nibbles of a vector of bytes, as f32 in [0, 15].
  std::pair<Value, Value> nibblesF32(Value bytes) {
    auto vt = cast<VectorType>(bytes.getType());
    Value mask = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(vt, b.getIntegerAttr(vt.getElementType(), 15)));
    Value four = b.create<arith::ConstantOp>(
        DenseElementsAttr::get(vt, b.getIntegerAttr(vt.getElementType(), 4)));
    auto f32 = VectorType::get(vt.getShape(), b.getF32Type());
    Value lo = b.create<arith::AndIOp>(bytes, mask);
    Value hi = b.create<arith::ShRUIOp>(bytes, four);
    return {b.create<arith::UIToFPOp>(f32, lo), b.create<arith::UIToFPOp>(f32, hi)};
  }

  /// for (iv = lb; iv < ub; iv += step) body(iv): no loop-carried values.
  void forLoop(Value lb, Value ub, Value step,
               const std::function<void(Value)> &body) {
    b.create<scf::ForOp>(lb, ub, step, ValueRange{},
                         [&](OpBuilder &nb, Location, Value iv, ValueRange) {
                           OpBuilder::InsertionGuard g(b);
                           b.setInsertionPoint(nb.getInsertionBlock(),
                                               nb.getInsertionPoint());
                           body(iv);
                           b.create<scf::YieldOp>();
                         });
  }

  /// A loop carrying `init`; body returns the next values.
  SmallVector<Value>
  forLoop(Value lb, Value ub, Value step, ValueRange init,
          const std::function<SmallVector<Value>(Value, ValueRange)> &body) {
    auto loop = b.create<scf::ForOp>(
        lb, ub, step, init,
        [&](OpBuilder &nb, Location, Value iv, ValueRange args) {
          OpBuilder::InsertionGuard g(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next = body(iv, args);
          b.create<scf::YieldOp>(next);
        });
    return SmallVector<Value>(loop.getResults());
  }
};

/// Static size of dimension i of a shaped value.
inline int64_t staticDim(Value v, unsigned i) {
  return cast<ShapedType>(v.getType()).getDimSize(i);
}

/// The type a quantized layout stores its scales in.
inline Type scaleTypeOf(OpBuilder &b, const WeightLayout &l) {
  return l.scheme.f16Scales ? Type(b.getF16Type()) : Type(b.getF32Type());
}

/// The op's schedule; lowering runs after xfmr-assign-schedules, so a
/// missing one is a pipeline error reported by the caller.
inline ScheduleAttr scheduleOf(Operation *op) {
  return op->getAttrOfType<ScheduleAttr>("schedule");
}

/// Quantizes row `row` of the f32 activations `x` per block of 32 (VNNI's
/// input): codes[codeBase + k] = roundeven(x / s) as i8, scales[prefix, blk]
/// = s = max|x| / 127, sums[prefix, blk] = sum of the block's codes.
void quantizeActivationRow(KB &k, Value x, Value row, int64_t length,
                           Value codes, Value codeBase, Value scales,
                           Value sums, ValueRange prefix);

/// out[outRow] = norm(x[row]) over d features: a layer norm
/// ((x - mean) * rstd * gamma + beta) when `beta` is given, else an RMS norm
/// (x * rstd * gamma). Shared by the norm kernels and fused prologues.
void normalizeRow(KB &k, VectorType vt, Value x, Value row, int64_t d,
                  double eps, Value gamma, Value beta, Value out, Value outRow);

/// gelu (tanh form) or silu of one vector.
Value applyActivation(KB &k, VectorType vt, GatedActivation act, Value x);

// One generator per op family. Each returns failure after emitting a
// diagnostic on `op` when the schedule does not fit the shapes.
LogicalResult buildLinear(ImplicitLocOpBuilder &b, LinearOp op, KernelArgs &a);
LogicalResult buildLMHead(ImplicitLocOpBuilder &b, LMHeadOp op, KernelArgs &a);
LogicalResult buildLayerNorm(ImplicitLocOpBuilder &b, LayerNormOp op, KernelArgs &a);
LogicalResult buildRMSNorm(ImplicitLocOpBuilder &b, RMSNormOp op, KernelArgs &a);
LogicalResult buildEmbedding(ImplicitLocOpBuilder &b, EmbeddingOp op, KernelArgs &a);
LogicalResult buildElementwise(ImplicitLocOpBuilder &b, Operation *op, KernelArgs &a);
LogicalResult buildRotary(ImplicitLocOpBuilder &b, RotaryOp op, KernelArgs &a);
LogicalResult buildAttention(ImplicitLocOpBuilder &b, AttentionOp op, KernelArgs &a);
LogicalResult buildAttentionPartial(ImplicitLocOpBuilder &b, AttentionPartialOp op,
                                    KernelArgs &a);
LogicalResult buildAttentionCombine(ImplicitLocOpBuilder &b, AttentionCombineOp op,
                                    KernelArgs &a);

} // namespace mlir::xfmr::cpu

#endif // XFMR_LOWERING_CPU_KERNELBUILDER_H

//===- AMXTiles.h - AMX tile instructions with fixed tile registers -*- C++ -*-===//
//
// The kernels drive AMX through LLVM's plain x86 intrinsics, which name tile
// registers directly (tmm0..tmm7) and take a tile configuration we write
// ourselves. LLVM 19's tile register allocation (behind MLIR's amx dialect)
// spills tiles to the stack as soon as more than a few are live, which made
// the AMX kernels slower than VNNI; with fixed registers the tile products
// of one activation block all stay in flight.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_CPU_AMXTILES_H
#define XFMR_LOWERING_CPU_AMXTILES_H

#include "KernelBuilder.h"

namespace mlir::xfmr::cpu {

struct AMXTiles {
  KB &k;
  explicit AMXTiles(KB &k) : k(k) {}

  /// The address `byteOffset` bytes into `memref`'s buffer (offset 0).
  Value address(Value memref, Value byteOffset) {
    ImplicitLocOpBuilder &b = k.b;
    Value base = b.create<memref::ExtractAlignedPointerAsIndexOp>(memref);
    Value at = b.create<arith::IndexCastOp>(b.getI64Type(), k.add(base, byteOffset));
    return b.create<LLVM::IntToPtrOp>(LLVM::LLVMPointerType::get(b.getContext()), at);
  }

  /// Loads a tile configuration (palette 1) with tile t holding rows[t]
  /// rows of colBytes[t] bytes; unnamed tiles stay off.
  void configure(ArrayRef<std::pair<int64_t, int64_t>> rowsAndColBytes) {
    ImplicitLocOpBuilder &b = k.b;
    Value cfg = b.create<memref::AllocaOp>(MemRefType::get({64}, b.getI8Type()));
    auto byte = [&](int64_t at, int64_t v) {
      k.store(b.create<arith::ConstantIntOp>(v, 8), cfg, {k.idx(at)});
    };
    for (int64_t i = 0; i < 64; ++i)
      byte(i, 0);
    byte(0, 1); // palette 1
    for (auto [t, rc] : llvm::enumerate(rowsAndColBytes)) {
      byte(16 + 2 * int64_t(t), rc.second & 0xff); // colsb, u16 LE
      byte(17 + 2 * int64_t(t), rc.second >> 8);
      byte(48 + int64_t(t), rc.first); // rows
    }
    call("llvm.x86.ldtilecfg", {address(cfg, k.idx(0))});
  }
  void release() { call("llvm.x86.tilerelease", {}); }
  void zero(int64_t t) { call("llvm.x86.tilezero", {tile(t)}); }
  void load(int64_t t, Value ptr, int64_t stride) {
    call("llvm.x86.tileloadd64", {tile(t), ptr, i64(stride)});
  }
  void store(int64_t t, Value ptr, int64_t stride) {
    call("llvm.x86.tilestored64", {tile(t), ptr, i64(stride)});
  }
  /// dst (i32) += signed bytes of a times unsigned bytes of b (tdpbsud).
  void dpbsud(int64_t dst, int64_t a, int64_t b) {
    call("llvm.x86.tdpbsud", {tile(dst), tile(a), tile(b)});
  }

private:
  Value tile(int64_t t) { return k.b.create<LLVM::ConstantOp>(k.b.getI8Type(), t); }
  Value i64(int64_t v) { return k.b.create<LLVM::ConstantOp>(k.b.getI64Type(), v); }
  void call(StringRef name, ValueRange args) {
    k.b.create<LLVM::CallIntrinsicOp>(TypeRange{}, name, args);
  }
};

} // namespace mlir::xfmr::cpu

#endif // XFMR_LOWERING_CPU_AMXTILES_H

//===- AssignSchedules.cpp - default #xfmr.schedule per compute op ---------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRASSIGNSCHEDULESPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// Largest power of two <= want that divides n.
int64_t fitWidth(int64_t want, int64_t n) {
  int64_t w = 1;
  while (w * 2 <= want && n % (w * 2) == 0)
    w *= 2;
  return w;
}

/// Largest multiple of vw that is <= want and divides n (vw divides n).
int64_t fitTile(int64_t want, int64_t vw, int64_t n) {
  for (int64_t t = (std::max(want, vw) / vw) * vw; t > vw; t -= vw)
    if (n % t == 0)
      return t;
  return vw;
}

int64_t cols(Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); }

struct AssignSchedules
    : mlir::xfmr::impl::XfmrAssignSchedulesPassBase<AssignSchedules> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    auto make = [&](int64_t vw, int64_t tm, int64_t tn, bool dot = false,
                    bool useAMX = false, int64_t prefetch = -1) {
      return ScheduleAttr::get(ctx, vw, tm, tn, 1, dot, useAMX, prefetch,
                               /*prefetchTo=*/1);
    };
    getOperation().walk([&](Operation *op) {
      if (!isa<XfmrDialect>(op->getDialect()) || isa<WeightOp, ConcatOp, DispatchOp>(op) ||
          op->hasAttr("schedule"))
        return;
      ScheduleAttr s;
      if (auto lin = dyn_cast<LinearOp>(op)) {
        // Weight columns: a unit is a block of them (gated: both halves).
        int64_t n = cols(lin.getWeight());
        // int4 blocks hold two columns per byte, gated blocks a gate and an
        // up half: tile_n splits in two halves of whole vectors.
        auto q = dyn_cast_or_null<QuantAttr>(
            cast<RankedTensorType>(lin.getWeight().getType()).getEncoding());
        bool int4 = q && q.getBits() != 8; // 4- and 6-bit codes: two columns per byte
        bool halves = int4 || lin.getGated();
        // Without VNNI, AVX2 multiplies int8 and 4-bit codes by bytes too:
        // its dot kernels keep the 16-lane vectors of VNNI's (two registers
        // each).
        bool avx2Codes = avx2Dot && q && q.hasDotKernel() && cols(lin.getInput()) % 32 == 0 &&
                        n % (q.getBits() == 8 ? 16 : 32) == 0;
        int64_t width = avx2Codes ? 16 : vectorWidth;
        int64_t vw = halves && n % 2 == 0 ? fitWidth(width, n / 2) : fitWidth(width, n);
        int64_t unit = halves ? 2 * vw : vw;
        // VNNI: 16 i32 lanes per vector, activation blocks of 32.
        auto wt = cast<RankedTensorType>(lin.getWeight().getType());
        bool dot = vw == 16 && cols(lin.getInput()) % 32 == 0 &&
                   ((vnni && q && q.hasDotKernel()) || avx2Codes ||
                    (bf16Dot && wt.getElementType().isBF16()));
        // Unset tiles by format. Weights widened to f32 (f32, bf16) run
        // FMA tiles: 8 rows x 3 vectors (24 accumulators) measured 130 ->
        // 175 GFLOP/s over 4 x 4 on one AVX-512 core (bench/kernel_bench
        // BM_LinearSchedule), GPT-2 prefill fp32 -8%, bf16 -21%.
        bool widened = !q && !dot;
        int64_t wantM = tileM ? tileM : widened ? 8 : 4;
        int64_t wantN = tileN ? tileN : widened ? 48 : 64;
        // AMX: int8 weights in the VNNI layout, 16-column tile groups.
        int64_t tn = fitTile(std::max<int64_t>(wantN, unit), unit, n);
        bool useAMX = amx && dot && q && q.getBits() == 8 && tn % 16 == 0;
        s = make(vw, wantM, tn, dot, useAMX, linearPrefetch);
      } else if (auto head = dyn_cast<LMHeadOp>(op)) {
        auto q = dyn_cast_or_null<QuantAttr>(
            cast<RankedTensorType>(head.getWeight().getType()).getEncoding());
        bool avx2Codes = avx2Dot && q && q.hasDotKernel() &&
                        (q.getBits() == 8 || q.getGroup() == 32) &&
                        cols(head.getInput()) % 32 == 0;
        int64_t vw = fitWidth(avx2Codes ? 16 : vectorWidth, cols(head.getInput()));
        bool dot = (avx2Codes || (vnni && q && q.hasDotKernel() &&
                                 (q.getBits() == 8 || q.getGroup() == 32))) &&
                   vw == 16 && cols(head.getInput()) % 32 == 0;
        s = make(vw, 1, std::max<int64_t>((tileN ? tileN : 64) / vw, 1) * vw, dot);
      } else if (isa<AttentionOp, AttentionPartialOp>(op)) {
        auto cache = cast<KVCacheType>(op->getOperand(op->getNumOperands() - 2).getType());
        int64_t vw = fitWidth(vectorWidth, cache.getHeadDim());
        s = make(vw, 1, vw);
      } else if (auto comb = dyn_cast<AttentionCombineOp>(op)) {
        int64_t vw = fitWidth(vectorWidth, comb.getHeadDim());
        s = make(vw, 1, vw);
      } else if (auto rot = dyn_cast<RotaryOp>(op)) {
        s = make(1, 1, 1);
      } else {
        int64_t vw = fitWidth(vectorWidth, cols(op->getResult(0)));
        s = make(vw, 1, vw);
      }
      op->setAttr("schedule", s);
    });
  }
};
} // namespace

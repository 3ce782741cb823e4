//===- LowerKernelsToLoops.cpp - kernel ABI and per-family bodies ----------===//
//
// Turns `func.func private @xk_*(tensors...) -> tensor {xfmr.kernel}` into
//   func.func @xk_*(%in: memref..., %out: memref, %n, %pos, %begin, %end: index)
// with a body of memref/scf/vector ops built by the per-family generators
// in CPU/. Activation memrefs have `max-tokens` rows; weights keep their
// static shape; a KV cache operand becomes two memrefs (this layer's keys
// and values, [kv_heads, context, head_dim]).
//
//===----------------------------------------------------------------------===//
#include "CPU/KernelBuilder.h"
#include "xfmr/Lowering/Passes.h"
#include "xfmr/Lowering/WeightLayout.h"

#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRLOWERKERNELSTOLOOPSPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::cpu;

namespace {
MemRefType bufferType(RankedTensorType t, int64_t maxTokens) {
  SmallVector<int64_t> shape(t.getShape());
  for (int64_t &d : shape)
    if (ShapedType::isDynamic(d))
      d = maxTokens;
  return MemRefType::get(shape, t.getElementType());
}

LogicalResult buildBody(ImplicitLocOpBuilder &b, Operation *op, KernelArgs &a) {
  if (!scheduleOf(op))
    return op->emitOpError("has no #xfmr.schedule; run xfmr-assign-schedules first");
  for (Type t : op->getResultTypes())
    if (!cast<ShapedType>(t).getElementType().isF32())
      return op->emitOpError("CPU lowering supports f32 activations only");
  for (auto [i, t] : llvm::enumerate(op->getOperandTypes())) {
    auto rt = dyn_cast<RankedTensorType>(t);
    if (!rt || layoutOf(op, i).kind != WeightLayout::Dense)
      continue;
    if (rt.getEncoding() || !(rt.getElementType().isF32() ||
                              rt.getElementType().isInteger(32)))
      return op->emitOpError() << "has no CPU kernel for " << t << " operands";
  }
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<LinearOp>([&](auto o) { return buildLinear(b, o, a); })
      .Case<LMHeadOp>([&](auto o) { return buildLMHead(b, o, a); })
      .Case<LayerNormOp>([&](auto o) { return buildLayerNorm(b, o, a); })
      .Case<RMSNormOp>([&](auto o) { return buildRMSNorm(b, o, a); })
      .Case<EmbeddingOp>([&](auto o) { return buildEmbedding(b, o, a); })
      .Case<RotaryOp>([&](auto o) { return buildRotary(b, o, a); })
      .Case<AttentionOp>([&](auto o) { return buildAttention(b, o, a); })
      .Case<AttentionPartialOp>([&](auto o) { return buildAttentionPartial(b, o, a); })
      .Case<AttentionCombineOp>([&](auto o) { return buildAttentionCombine(b, o, a); })
      .Case<GeluOp, SiluOp, AddOp, GLUOp>(
          [&](Operation *o) { return buildElementwise(b, o, a); })
      .Default([](Operation *o) {
        return o->emitOpError("has no CPU kernel generator");
      });
}

LogicalResult lowerKernel(func::FuncOp kernel, int64_t maxTokens, bool avx2Dot) {
  Block &body = kernel.getBody().front();
  Operation *op = &body.front();
  if (op->getNumResults() != 1 || !isa<func::ReturnOp>(op->getNextNode()))
    return kernel.emitError("kernel must hold exactly one single-result op");
  MLIRContext *ctx = kernel.getContext();
  Type index = IndexType::get(ctx);

  // New signature: buffers, output, then n, pos, begin, end.
  SmallVector<Type> types;
  SmallVector<int> role; // per original operand: -1 index, -2 cache, else input #
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    if (auto t = dyn_cast<RankedTensorType>(v.getType())) {
      role.push_back(types.size());
      WeightLayout layout = layoutOf(op, i);
      // Packed weights are byte buffers; the generators view into them.
      if (layout.kind != WeightLayout::Dense)
        types.push_back(MemRefType::get({layout.bytes()},
                                        IntegerType::get(ctx, 8)));
      else
        types.push_back(bufferType(t, maxTokens));
    } else if (auto c = dyn_cast<KVCacheType>(v.getType())) {
      role.push_back(-2);
      int64_t elems = c.getKvHeads() * c.getContextLength() * c.getHeadDim();
      // i8 halves are bytes: codes, then one f32 scale per head vector.
      auto half = c.getElementType().isSignlessInteger(8)
                      ? MemRefType::get({elems + c.getKvHeads() * c.getContextLength() * 4},
                                        c.getElementType())
                      : MemRefType::get({c.getKvHeads(), c.getContextLength(),
                                         c.getHeadDim()},
                                        c.getElementType());
      types.push_back(half);
      types.push_back(half);
    } else if (v.getType().isIndex()) {
      role.push_back(-1);
    } else {
      return op->emitOpError() << "operand type " << v.getType()
                               << " has no kernel ABI";
    }
  }
  types.push_back(bufferType(cast<RankedTensorType>(op->getResult(0).getType()),
                             maxTokens));
  unsigned nBuffers = types.size();
  types.append(4, index);

  OpBuilder ob(kernel);
  auto lowered = ob.create<func::FuncOp>(kernel.getLoc(), kernel.getSymName(),
                                         ob.getFunctionType(types, {}));
  for (NamedAttribute a : kernel->getDiscardableAttrs())
    lowered->setAttr(a.getName(), a.getValue());
  // What each buffer spans, for the runtime's check of every dispatch
  // (xfmr-emit-kernel-table exports it).
  SmallVector<int64_t> bufferBytes;
  for (Type t : ArrayRef<Type>(types).take_front(nBuffers)) {
    auto m = cast<MemRefType>(t);
    bufferBytes.push_back(m.getNumElements() *
                          int64_t(llvm::divideCeil(m.getElementTypeBitWidth(), 8)));
  }
  lowered->setAttr("xfmr.buffer_bytes", ob.getDenseI64ArrayAttr(bufferBytes));
  Block *entry = lowered.addEntryBlock();
  KernelArgs args;
  args.avx2Dot = avx2Dot;
  unsigned next = 0;
  for (int r : role) {
    if (r == -2) {
      args.kCache = entry->getArgument(next++);
      args.vCache = entry->getArgument(next++);
    } else if (r >= 0) {
      args.inputs.push_back(entry->getArgument(next++));
    }
  }
  args.out = entry->getArgument(nBuffers - 1);
  args.n = entry->getArgument(nBuffers);
  args.pos = entry->getArgument(nBuffers + 1);
  args.begin = entry->getArgument(nBuffers + 2);
  args.end = entry->getArgument(nBuffers + 3);

  ImplicitLocOpBuilder b(op->getLoc(), ctx);
  b.setInsertionPointToStart(entry);
  if (failed(buildBody(b, op, args))) {
    lowered.erase();
    return failure();
  }
  b.create<func::ReturnOp>();
  kernel.erase();
  return success();
}

struct LowerKernelsToLoops
    : mlir::xfmr::impl::XfmrLowerKernelsToLoopsPassBase<LowerKernelsToLoops> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> kernels, others;
    for (auto f : module.getOps<func::FuncOp>())
      (f->hasAttr("xfmr.kernel") ? kernels : others).push_back(f);
    for (func::FuncOp f : others)
      f.erase();
    for (func::FuncOp k : kernels)
      if (failed(lowerKernel(k, maxTokens, avx2Dot)))
        return signalPassFailure();
    // exp and tanh as polynomials, so they stay in vector registers.
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(module, std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

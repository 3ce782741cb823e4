//===- KVCachePrecision.cpp - store the KV cache in f16 or int8 ------------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMRKVCACHEPRECISIONPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
struct KVCachePrecision
    : mlir::xfmr::impl::XfmrKVCachePrecisionPassBase<KVCachePrecision> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    Type storage;
    if (precision == "f32")
      storage = Float32Type::get(ctx);
    else if (precision == "f16")
      storage = Float16Type::get(ctx);
    else if (precision == "int8")
      storage = IntegerType::get(ctx, 8);
    else {
      getOperation().emitError() << "kv cache precision must be f32, f16 or "
                                    "int8, got '"
                                 << precision << "'";
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      SmallVector<Type> inputs(fn.getFunctionType().getInputs());
      for (BlockArgument arg : fn.getArguments()) {
        auto c = dyn_cast<KVCacheType>(arg.getType());
        if (!c)
          continue;
        auto t = KVCacheType::get(ctx, c.getLayers(), c.getKvHeads(),
                                  c.getContextLength(), c.getHeadDim(), storage);
        arg.setType(t);
        inputs[arg.getArgNumber()] = t;
      }
      fn.setFunctionType(
          FunctionType::get(ctx, inputs, fn.getFunctionType().getResults()));
    }
  }
};
} // namespace

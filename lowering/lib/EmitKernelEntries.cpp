//===- EmitKernelEntries.cpp - uniform C entry point per kernel ------------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMREMITKERNELENTRIESPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
struct EmitKernelEntries
    : mlir::xfmr::impl::XfmrEmitKernelEntriesPassBase<EmitKernelEntries> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    SmallVector<LLVM::LLVMFuncOp> kernels;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>())
      if (f->hasAttr("xfmr.kernel") && !f.isExternal())
        kernels.push_back(f);
    for (LLVM::LLVMFuncOp kernel : kernels) {
      auto params = kernel.getFunctionType().getParams();
      if (params.size() < 4) {
        kernel.emitError("kernel has fewer than the four index arguments");
        return signalPassFailure();
      }
      unsigned nBuffers = params.size() - 4;
      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                              {ptr, i64, i64, i64, i64});
      auto entry = b.create<LLVM::LLVMFuncOp>(
          kernel.getLoc(), (kernel.getSymName() + "_entry").str(), type);
      Block *block = entry.addEntryBlock(b);
      b.setInsertionPointToStart(block);
      SmallVector<Value> args;
      for (unsigned i = 0; i < nBuffers; ++i) {
        Value slot = b.create<LLVM::GEPOp>(kernel.getLoc(), ptr, ptr,
                                           block->getArgument(0),
                                           ArrayRef<LLVM::GEPArg>{int32_t(i)});
        args.push_back(b.create<LLVM::LoadOp>(kernel.getLoc(), ptr, slot));
      }
      for (unsigned i = 1; i <= 4; ++i)
        args.push_back(block->getArgument(i));
      b.create<LLVM::CallOp>(kernel.getLoc(), kernel, args);
      b.create<LLVM::ReturnOp>(kernel.getLoc(), ValueRange{});
      // The kernel itself is only reached through its entry.
      kernel.setLinkage(LLVM::Linkage::Internal);
    }
  }
};
} // namespace

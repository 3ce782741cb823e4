//===- Pipelines.cpp - the CPU code generation pipeline --------------------===//
#include "xfmr/Lowering/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void xfmr::buildFusionPipeline(OpPassManager &pm) {
  pm.addPass(createXfmrFuseRotaryPass());
  pm.addPass(createXfmrFuseQKVPass());
  pm.addPass(createXfmrFuseGateUpPass());
  pm.addPass(createXfmrFuseNormsPass());
  pm.addPass(createXfmrFuseEpiloguesPass());
}

void xfmr::buildKernelFormationPipeline(OpPassManager &pm,
                                        const CPUPipelineOptions &o) {
  if (o.fuse)
    buildFusionPipeline(pm);
  if (o.attentionSplits > 1)
    pm.addPass(createXfmrSplitAttentionPass(
        XfmrSplitAttentionPassOptions{o.attentionSplits}));
  pm.addPass(createXfmrAssignSchedulesPass(assignSchedulesOptions(o)));
  pm.addPass(createXfmrOutlineKernelsPass());
}

mlir::xfmr::XfmrAssignSchedulesPassOptions xfmr::assignSchedulesOptions(const CPUPipelineOptions &o) {
  XfmrAssignSchedulesPassOptions s;
  s.vectorWidth = o.vectorWidth;
  s.tileM = o.tileM;
  s.tileN = o.tileN;
  s.vnni = o.vnni;
  s.bf16Dot = o.bf16Dot;
  s.amx = o.amx;
  s.linearPrefetch = o.linearPrefetch;
  s.avx2Dot = o.avx2Dot;
  return s;
}

void xfmr::buildCPUCodegenPipeline(OpPassManager &pm,
                                   const CPUPipelineOptions &o) {
  pm.addPass(createXfmrLowerKernelsToLoopsPass(
      XfmrLowerKernelsToLoopsPassOptions{o.maxTokens, o.avx2Dot}));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createConvertSCFToCFPass());
  ConvertVectorToLLVMPassOptions vec;
  vec.reassociateFPReductions = true;
  vec.amx = o.amx;
  pm.addPass(createConvertVectorToLLVMPass(vec));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  ConvertFuncToLLVMPassOptions fn;
  fn.useBarePtrCallConv = true;
  pm.addPass(createConvertFuncToLLVMPass(fn));
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createXfmrEmitKernelEntriesPass());
  pm.addPass(createXfmrEmitKernelTablePass(
      XfmrEmitKernelTablePassOptions{o.manifestHash, o.maxTokens, o.vocab, o.kvContext}));
  pm.addPass(createCanonicalizerPass());
}

namespace {
struct CPUPipelineCLOptions
    : public PassPipelineOptions<CPUPipelineCLOptions> {
  Option<int64_t> vectorWidth{*this, "vector-width",
                              llvm::cl::desc("f32 SIMD lanes"),
                              llvm::cl::init(16)};
  Option<int64_t> maxTokens{*this, "max-tokens",
                            llvm::cl::desc("activation rows per call"),
                            llvm::cl::init(1024)};
  Option<bool> vnni{*this, "vnni",
                    llvm::cl::desc("int8 weights: AVX-512 VNNI dot products"),
                    llvm::cl::init(false)};
  Option<bool> fuse{*this, "fuse",
                    llvm::cl::desc("run the fusion passes first"),
                    llvm::cl::init(true)};
  Option<int64_t> tileN{*this, "tile-n",
                        llvm::cl::desc("default column tile of matrix products (0: by weight format)"),
                        llvm::cl::init(0)};
};
} // namespace

void xfmr::registerXfmrPipelines() {
  registerXfmrPasses();
  PassPipelineRegistration<>(
      "xfmr-fusion-pipeline",
      "xfmr-fuse-rotary, xfmr-fuse-qkv, xfmr-fuse-norms, xfmr-fuse-epilogues",
      [](OpPassManager &pm) { buildFusionPipeline(pm); });
  PassPipelineRegistration<CPUPipelineCLOptions>(
      "xfmr-cpu-pipeline",
      "xfmr dialect to the LLVM dialect: schedules, kernels, CPU loops, LLVM",
      [](OpPassManager &pm, const CPUPipelineCLOptions &o) {
        CPUPipelineOptions opts{o.vectorWidth, o.maxTokens, 0, o.tileN, o.vnni, false, o.fuse};
        buildKernelFormationPipeline(pm, opts);
        buildCPUCodegenPipeline(pm, opts);
      });
}

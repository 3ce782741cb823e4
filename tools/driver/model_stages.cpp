// The stages `xfmr compile` and `xfmr tune` share (model_stages.h).
#include "model_stages.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Pass/PassManager.h"

#include <unistd.h>

using namespace mlir;
using namespace ::xfmr::driver;

void ::xfmr::driver::registerDialects(MLIRContext &ctx) {
  DialectRegistry registry;
  registry.insert<mlir::xfmr::XfmrDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, cf::ControlFlowDialect,
                  index::IndexDialect, LLVM::LLVMDialect>();
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
}

/// The pipeline options `options` stand for on `target`.
auto ::xfmr::driver::pipelineOptions(const ::xfmr::CompileOptions &options,
                                     const mlir::xfmr::CPUTarget &target, int64_t nCtx,
                                     int64_t weightValues)
    -> mlir::xfmr::CPUPipelineOptions {
  mlir::xfmr::CPUPipelineOptions popts;
  popts.vectorWidth = target.hasAVX512() ? 16 : 8;
  popts.maxTokens = std::min<int64_t>(options.maxTokens, nCtx);
  popts.tileN = options.tileN;
  popts.tileM = options.tileM;
  popts.vnni = target.hasVNNI() && !options.noDot;
  // Without VNNI, AVX2's byte multiply-adds still take int8 and 4-bit codes.
  popts.avx2Dot = !popts.vnni && target.hasAVX2() && !options.noDot;
  popts.bf16Dot = target.hasBF16() && options.bf16Dot && !options.noDot;
  popts.fuse = !options.noFuse;
  popts.attentionSplits = options.attentionSplits;
  popts.amx = popts.vnni && target.hasAMX() && options.amx;
  popts.linearPrefetch = options.prefetch >= -1 ? options.prefetch : -1;
  if (options.prefetch == -2 && options.cpu.empty() && weightValues > 0) {
    // Decode streams every weight once per token. From DRAM the hardware
    // prefetchers keep up alone and the kernels' prefetch instructions only
    // cost issue slots: TinyLlama-shaped int8 (1.04 GB) decoded 1.26x faster
    // without them (AMD EPYC Zen 5, 2 threads, 8 paired rounds, 8 of 8).
    // From L3 they help (GPT-2 124M on a 260 MiB-L3 Xeon, docs/tuner.md).
    double bytesPerValue = options.precision == "int4"   ? 0.5
                           : options.precision == "int8" ? 1
                           : options.precision == "bf16" ? 2
                                                         : 4;
    long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0 && double(weightValues) * bytesPerValue > double(l3))
      popts.linearPrefetch = 0;
  }
  return popts;
}

auto ::xfmr::driver::targetOf(const ::xfmr::CompileOptions &options) -> mlir::xfmr::CPUTarget {
  mlir::xfmr::CPUTarget target = mlir::xfmr::CPUTarget::host();
  if (!options.cpu.empty()) {
    target.cpu = options.cpu;
    target.features = options.features;
  }
  return target;
}

/// Import, the model-level passes the options ask for, then fusion and the
/// attention split: the module kernels are formed from, before any
/// schedule. Compile and tune both start here, so their kernel signatures
/// agree. Returns 0 or the compile return code.
int ::xfmr::driver::importModelLevel(MLIRContext &ctx, const ::xfmr::io::ModelDir &files,
                                     const ::xfmr::CompileOptions &options,
                                     DiagnosticCapture &diag,
                                     OwningOpRef<ModuleOp> &module, std::string *error) {
  module = mlir::xfmr::importModel(&ctx, files, {options.context}, error);
  if (!module)
    return 2;
  // The model-level passes the options ask for; a failure is bad input
  // (an option that does not fit the model) and names the option.
  auto runModelPass = [&](std::unique_ptr<Pass> pass, const char *option) {
    PassManager pm(&ctx);
    pm.addPass(std::move(pass));
    if (succeeded(pm.run(*module)))
      return true;
    *error = std::string(option) + ": " + diag.text;
    return false;
  };
  if (!options.dropLayers.empty() || options.dropLast > 0) {
    mlir::xfmr::XfmrPruneLayersPassOptions po;
    po.drop = options.dropLayers;
    po.dropLast = options.dropLast;
    if (!runModelPass(mlir::xfmr::createXfmrPruneLayersPass(po), "--drop-layers"))
      return 2;
  }
  if (options.precision != "f32") {
    mlir::xfmr::XfmrQuantizeWeightsPassOptions qo;
    qo.precision = options.precision;
    qo.groupSize = options.groupSize;
    qo.scaleType = options.scaleType;
    qo.zeroPoint = options.zeroPoint;
    qo.exclude = options.keep;
    if (!runModelPass(mlir::xfmr::createXfmrQuantizeWeightsPass(qo), "--precision"))
      return 2;
  }
  if (options.kvPrecision != "f32") {
    mlir::xfmr::XfmrKVCachePrecisionPassOptions ko;
    ko.precision = options.kvPrecision;
    if (!runModelPass(mlir::xfmr::createXfmrKVCachePrecisionPass(ko),
                      "--kv-precision"))
      return 2;
  }
  return 0;
}

int ::xfmr::driver::prepareModule(MLIRContext &ctx, const ::xfmr::io::ModelDir &files,
                  const ::xfmr::CompileOptions &options,
                  const mlir::xfmr::CPUPipelineOptions &popts,
                  DiagnosticCapture &diag, OwningOpRef<ModuleOp> &module,
                  const std::function<void(const std::string &)> &dump,
                  std::string *error) {
  if (int rc = importModelLevel(ctx, files, options, diag, module, error))
    return rc;
  dump("xfmr.mlir");
  PassManager pm(&ctx);
  if (popts.fuse)
    mlir::xfmr::buildFusionPipeline(pm);
  if (popts.attentionSplits > 1)
    pm.addPass(mlir::xfmr::createXfmrSplitAttentionPass(
        mlir::xfmr::XfmrSplitAttentionPassOptions{popts.attentionSplits}));
  if (failed(pm.run(*module))) {
    *error = "kernel formation failed: " + diag.text;
    return 1;
  }
  return 0;
}


int ::xfmr::driver::prepareModel(const std::string &modelDir,
                                 const ::xfmr::CompileOptions &options, PreparedModel &p,
                                 const std::function<void(const std::string &)> &dump,
                                 std::string *error) {
  p.files = ::xfmr::io::ModelDir::open(modelDir, error);
  if (!p.files)
    return 2;
  p.target = targetOf(options);
  int64_t values = p.files->checkpoint().values();
  p.popts = pipelineOptions(options, p.target,
                           options.context > 0 ? options.context : p.files->shape().context,
                           values);
  return prepareModule(p.ctx, *p.files, options, p.popts, p.diag, p.module, dump, error);
}

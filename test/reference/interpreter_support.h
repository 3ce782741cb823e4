// Helpers of the interpreter's tests: modules from text or from a random
// GPT-2, loaders, pass runs and logit comparisons.
#ifndef XFMR_TEST_REFERENCE_INTERPRETER_SUPPORT_H
#define XFMR_TEST_REFERENCE_INTERPRETER_SUPPORT_H

#include "../e2e/compare.h"
#include "../support/small_models.h"
#include "Interpreter.h"
#include "xfmr/Lowering/Passes.h"
#include "xfmr/import/Importer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"
#include "xfmr/io/quantize.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace xfmr::test {

inline void loadDialects(mlir::MLIRContext &ctx) {
  ctx.loadDialect<mlir::xfmr::XfmrDialect, mlir::func::FuncDialect>();
}

/// Stored tensors by name, as a model file would hold them.
using TensorMap = std::map<std::string, reference::StoredTensor>;

inline reference::WeightLoader mapLoader(TensorMap tensors) {
  auto shared = std::make_shared<TensorMap>(std::move(tensors));
  return [shared](const std::string &name) -> std::optional<reference::StoredTensor> {
    auto it = shared->find(name);
    if (it == shared->end())
      return std::nullopt;
    return it->second;
  };
}

/// A tensor of `shape` with values uniform in [-scale, scale).
inline reference::StoredTensor randomTensor(std::vector<int64_t> shape,
                                            std::mt19937 &rng, float scale = 1) {
  std::uniform_real_distribution<float> u(-scale, scale);
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  reference::StoredTensor t{std::move(shape), std::vector<float>(size_t(n))};
  for (float &v : t.data)
    v = u(rng);
  return t;
}

/// Collects the diagnostics emitted while it lives.
struct Diagnostics {
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
  explicit Diagnostics(mlir::MLIRContext &ctx)
      : handler(&ctx, [this](mlir::Diagnostic &d) {
          text += d.str() + "\n";
          return mlir::success();
        }) {}
};

/// Runs the passes `build` adds on `module`; false (and the diagnostics in
/// *error) on failure.
inline bool runPasses(mlir::ModuleOp module,
                      const std::function<void(mlir::PassManager &)> &build,
                      std::string *error) {
  Diagnostics diag(*module.getContext());
  mlir::PassManager pm(module.getContext());
  build(pm);
  if (mlir::succeeded(pm.run(module)))
    return true;
  *error = diag.text;
  return false;
}

/// Parses `text` into a module; null (and the diagnostics in *error) on failure.
inline mlir::OwningOpRef<mlir::ModuleOp> parseModule(mlir::MLIRContext &ctx,
                                                     const std::string &text,
                                                     std::string *error) {
  loadDialects(ctx);
  Diagnostics diag(ctx);
  auto m = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx, "test.mlir");
  if (!m)
    *error = diag.text;
  return m;
}

/// The model-level passes `xfmr compile` runs on an imported module.
struct ModelPasses {
  std::vector<int64_t> drop = {};     // xfmr-prune-layers
  io::QuantScheme scheme = {};        // not F32: xfmr-quantize-weights
  std::vector<std::string> keep = {}; // its exclude list
  std::string kv = "f32";             // not f32: xfmr-kv-cache-precision

  void addTo(mlir::PassManager &pm) const {
    using namespace mlir::xfmr;
    if (!drop.empty()) {
      XfmrPruneLayersPassOptions o;
      o.drop = drop;
      pm.addPass(createXfmrPruneLayersPass(o));
    }
    if (scheme.format != io::WeightFormat::F32) {
      XfmrQuantizeWeightsPassOptions o;
      o.precision = scheme.format == io::WeightFormat::BF16   ? "bf16"
                    : scheme.format == io::WeightFormat::Int8 ? "int8"
                                                              : "int4";
      o.groupSize = scheme.group;
      o.scaleType = scheme.f16Scales ? "f16" : "f32";
      o.zeroPoint = scheme.zeroPoint;
      o.exclude = keep;
      pm.addPass(createXfmrQuantizeWeightsPass(o));
    }
    if (kv != "f32") {
      XfmrKVCachePrecisionPassOptions o;
      o.precision = kv;
      pm.addPass(createXfmrKVCachePrecisionPass(o));
    }
  }
};

/// A random model written to a temporary directory in the Hugging Face
/// layout, opened and imported as `xfmr compile` would.
struct ImportedModel {
  TempDir dir;
  std::unique_ptr<io::ModelDir> files;
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  /// nullptr and *error on failure.
  static std::unique_ptr<ImportedModel> gpt2(const io::GPT2Config &c, unsigned seed,
                                             std::string *error,
                                             const io::RandomModelFormat &format = {}) {
    auto m = std::make_unique<ImportedModel>();
    if (!io::writeRandomGPT2(m->path(), c, seed, error, format))
      return nullptr;
    return m->open(error) ? std::move(m) : nullptr;
  }
  static std::unique_ptr<ImportedModel> llama(const io::LlamaConfig &c, unsigned seed,
                                              std::string *error,
                                              const io::RandomLlamaFormat &format = {}) {
    auto m = std::make_unique<ImportedModel>();
    if (!io::writeRandomLlama(m->path(), c, seed, error, format))
      return nullptr;
    return m->open(error) ? std::move(m) : nullptr;
  }

  /// The checkpoint by the names the importer writes (the file's own).
  reference::WeightLoader loader() const {
    const io::Checkpoint &ck = files->checkpoint();
    return [&ck](const std::string &name) -> std::optional<reference::StoredTensor> {
      const io::Checkpoint::Tensor *t = ck.find(name);
      if (!t)
        return std::nullopt;
      return reference::StoredTensor{t->shape, ck.toF32(*t), ck.storedScheme(*t)};
    };
  }

private:
  std::string path() const { return dir.path + "/model"; }
  bool open(std::string *error) {
    files = io::ModelDir::open(path(), error);
    if (!files)
      return false;
    loadDialects(ctx);
    module = mlir::xfmr::importModel(&ctx, *files, {}, error);
    return bool(module);
  }
};

/// The worst relative L2 distance between rows of a and b (b the oracle).
inline double worstRelativeL2(const reference::Logits &a, const reference::Logits &b) {
  double worst = a.size() == b.size() ? 0 : INFINITY;
  for (size_t t = 0; t < a.size() && t < b.size(); ++t)
    worst = std::max(worst, a[t].size() == b[t].size()
                                ? relativeL2(a[t].data(), b[t])
                                : INFINITY);
  return worst;
}

/// A 16-token prompt then 16 single-token steps, as test/e2e does: the
/// logits of all 32 positions from `step`, called with each chunk.
inline reference::Logits promptThenDecode(
    const std::vector<int32_t> &seq,
    const std::function<reference::Logits(const std::vector<int32_t> &)> &step) {
  reference::Logits all = step({seq.begin(), seq.begin() + 16});
  for (size_t t = 16; t < seq.size(); ++t)
    for (auto &row : step({seq[t]}))
      all.push_back(std::move(row));
  return all;
}

inline std::vector<int32_t> randomTokens(size_t n, int64_t vocab, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> tok(0, int32_t(vocab - 1));
  std::vector<int32_t> seq(n);
  for (auto &t : seq)
    t = tok(rng);
  return seq;
}

} // namespace xfmr::test

#endif

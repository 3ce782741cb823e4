// The import entry point: the options checked against the model, then the
// family's importer (Importer.h).
#include "xfmr/import/Importer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"

#include "llvm/Support/Casting.h"

using namespace mlir;
using namespace mlir::xfmr;

OwningOpRef<ModuleOp> mlir::xfmr::importModel(MLIRContext *ctx,
                                              const ::xfmr::io::ModelDir &model,
                                              const ImportOptions &options,
                                              std::string *error) {
  const int64_t own = model.shape().context;
  int64_t context = options.context > 0 ? options.context : own;
  if (context > own) {
    *error = "--context " + std::to_string(context) + " exceeds the " +
             std::to_string(own) + " positions of " + model.configPath();
    return nullptr;
  }
  if (const auto *llama = llvm::dyn_cast<::xfmr::io::LlamaModel>(&model)) {
    int64_t window = llama->config().slidingWindow;
    // Within the window, sliding-window attention is full attention.
    if (window > 0 && context > window) {
      *error = model.configPath() + ": sliding_window " + std::to_string(window) +
               " is shorter than the compiled context " + std::to_string(context) +
               ", and sliding-window attention is not implemented; compile with "
               "--context " + std::to_string(window) + " or less";
      return nullptr;
    }
    return importLlama(ctx, *llama, context);
  }
  return importGPT2(ctx, llvm::cast<::xfmr::io::GPT2Model>(model), context);
}

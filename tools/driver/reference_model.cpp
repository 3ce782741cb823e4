// The reference of a model directory (reference_model.h).
#include "reference_model.h"
#include "model_stages.h"

#include "mlir/Pass/PassManager.h"

using namespace mlir;

int ::xfmr::driver::openReference(const std::string &modelDir,
                                  const ::xfmr::CompileOptions &options, double jitter,
                                  ReferenceModel &out, std::string *error) {
  out.files = ::xfmr::io::ModelDir::open(modelDir, error);
  if (!out.files)
    return 2;
  out.ctx = std::make_unique<MLIRContext>();
  registerDialects(*out.ctx);
  DiagnosticCapture diag(*out.ctx);
  if (int rc = importModelLevel(*out.ctx, *out.files, options, diag, out.module, error))
    return rc;
  // The schedules say which matrix products use dot-product instructions
  // (and so round their inputs); the interpreter follows them.
  mlir::xfmr::CPUTarget target = targetOf(options);
  mlir::xfmr::CPUPipelineOptions popts =
      pipelineOptions(options, target, out.files->shape().context, 0);
  PassManager pm(out.ctx.get());
  pm.addPass(mlir::xfmr::createXfmrAssignSchedulesPass(
      mlir::xfmr::assignSchedulesOptions(popts)));
  if (failed(pm.run(*out.module))) {
    *error = "reference: schedules: " + diag.text;
    return 1;
  }
  const ::xfmr::io::Checkpoint &ckpt = out.files->checkpoint();
  auto load = [&ckpt](const std::string &name) -> std::optional<::xfmr::reference::StoredTensor> {
    const ::xfmr::io::Checkpoint::Tensor *t = ckpt.find(name);
    if (!t)
      return std::nullopt;
    return ::xfmr::reference::StoredTensor{t->shape, ckpt.toF32(*t), ckpt.storedScheme(*t)};
  };
  ::xfmr::reference::InterpreterOptions io;
  io.dotInputRounding = popts.vnni || popts.bf16Dot || popts.avx2Dot;
  io.activationJitter = jitter;
  out.interpreter = std::make_unique<::xfmr::reference::Interpreter>(*out.module, load, io);
  if (!out.interpreter->ok()) {
    *error = "reference: " + out.interpreter->error();
    return 1;
  }
  return 0;
}

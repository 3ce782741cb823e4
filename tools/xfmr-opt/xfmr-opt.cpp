//===- xfmr-opt.cpp - the xfmr pass driver ---------------------------------===//
//
// mlir-opt with the xfmr dialect, its passes and the xfmr-cpu-pipeline.
//
//===----------------------------------------------------------------------===//
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "xfmr/IR/XfmrDialect.h"
#include "xfmr/Lowering/Passes.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::xfmr::registerXfmrPipelines();
  mlir::DialectRegistry registry;
  registry.insert<mlir::xfmr::XfmrDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "xfmr optimizer driver\n", registry));
}

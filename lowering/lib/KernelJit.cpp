//===- KernelJit.cpp - compile one kernel in-process and call it -----------===//
#include "xfmr/Lowering/KernelJit.h"
#include "xfmr/io/amx.h"

#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Target/LLVMIR/Dialect/AMX/AMXToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

using namespace mlir;
using namespace mlir::xfmr;

JitKernel::JitKernel() = default;
JitKernel::~JitKernel() = default;

std::unique_ptr<JitKernel> JitKernel::compile(const std::string &source,
                                              const CPUPipelineOptions &options,
                                              std::string *error) {
  std::unique_ptr<JitKernel> k(new JitKernel());
  k->ctx_ = std::make_unique<MLIRContext>();
  MLIRContext &ctx = *k->ctx_;
  DialectRegistry registry;
  registry.insert<XfmrDialect, func::FuncDialect, arith::ArithDialect,
                  math::MathDialect, memref::MemRefDialect, scf::SCFDialect,
                  vector::VectorDialect, cf::ControlFlowDialect,
                  index::IndexDialect, LLVM::LLVMDialect>();
  ctx.appendDialectRegistry(registry);
  registerBuiltinDialectTranslation(ctx);
  registerLLVMDialectTranslation(ctx);
  registerAMXDialectTranslation(ctx);
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    if (diag.empty())
      diag = d.str();
    return success();
  });

  OwningOpRef<ModuleOp> m = parseSourceString<ModuleOp>(source, &ctx);
  if (!m) {
    *error = "parse: " + diag;
    return nullptr;
  }
  PassManager formation(&ctx);
  buildKernelFormationPipeline(formation, options);
  if (failed(formation.run(*m))) {
    *error = "kernel formation: " + diag;
    return nullptr;
  }
  for (auto f : m->getOps<func::FuncOp>())
    if (f->hasAttr("xfmr.kernel")) {
      k->name_ = f.getSymName().str();
      if (auto n = dyn_cast_or_null<IntegerAttr>(f->getAttr("xfmr.work")))
        k->units_ = n.getInt();
      Operation *op = &f.getBody().front().front();
      for (unsigned i = 0; i < op->getNumOperands(); ++i)
        k->layouts_.push_back(layoutOf(op, i));
      auto s = op->getAttrOfType<ScheduleAttr>("schedule");
      if (s && s.getAmx() && !::xfmr::io::requestAMX(error))
        return nullptr;
    }
  if (k->name_.empty()) {
    *error = "no kernel was outlined";
    return nullptr;
  }
  PassManager codegen(&ctx);
  buildCPUCodegenPipeline(codegen, options);
  if (failed(codegen.run(*m))) {
    *error = "code generation: " + diag;
    return nullptr;
  }
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto tmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!tmb) {
    *error = llvm::toString(tmb.takeError());
    return nullptr;
  }
  auto tm = tmb->createTargetMachine();
  if (!tm) {
    *error = llvm::toString(tm.takeError());
    return nullptr;
  }
  ExecutionEngineOptions eo;
  eo.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  eo.enableGDBNotificationListener = false;
  eo.enablePerfNotificationListener = false;
  auto engine = ExecutionEngine::create(*m, eo, std::move(*tm));
  if (!engine) {
    *error = "JIT: " + llvm::toString(engine.takeError());
    return nullptr;
  }
  k->engine_ = std::move(*engine);
  auto sym = k->engine_->lookup(k->name_ + "_entry");
  if (!sym) {
    *error = llvm::toString(sym.takeError());
    return nullptr;
  }
  k->entry_ = reinterpret_cast<KernelEntryFn>(*sym);
  return k;
}

void JitKernel::run(const std::vector<void *> &buffers, int64_t n, int64_t pos,
                    int splits) const {
  int64_t u = units(n);
  for (int s = 0; s < splits; ++s) {
    int64_t b = u * s / splits, e = u * (s + 1) / splits;
    if (b < e)
      entry_(buffers.data(), n, pos, b, e);
  }
}

//===- ObjectEmitter.cpp - LLVM dialect -> optimized object -> .so ---------===//
#include "xfmr/Lowering/CPUTarget.h"

#include "mlir/Target/LLVMIR/Dialect/AMX/AMXToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
using namespace mlir::xfmr;

CPUTarget CPUTarget::host() {
  CPUTarget t;
  t.cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> list;
  for (auto &f : features)
    list.push_back((f.second ? "+" : "-") + f.first().str());
  std::sort(list.begin(), list.end()); // reproducible order
  for (auto &f : list)
    t.features += (t.features.empty() ? "" : ",") + f;
  return t;
}

bool CPUTarget::hasAVX2() const { return features.find("+avx2") != std::string::npos; }

bool CPUTarget::hasAVX512() const {
  return features.find("+avx512f") != std::string::npos;
}

bool CPUTarget::hasBF16() const {
  return hasAVX512() && features.find("+avx512bf16") != std::string::npos;
}

bool CPUTarget::hasAMX() const {
  return features.find("+amx-tile") != std::string::npos &&
         features.find("+amx-int8") != std::string::npos;
}

bool CPUTarget::hasVNNI() const {
  return hasAVX512() && features.find("+avx512vnni") != std::string::npos;
}

LogicalResult xfmr::emitSharedObject(ModuleOp module, const CPUTarget &target,
                                     const std::string &soPath,
                                     const std::string &llPath) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  registerBuiltinDialectTranslation(*module.getContext());
  registerLLVMDialectTranslation(*module.getContext());
  registerAMXDialectTranslation(*module.getContext());

  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmCtx, "xfmr_kernels");
  if (!llvmModule)
    return module.emitError("translation to LLVM IR failed");

  std::string triple = llvm::sys::getDefaultTargetTriple(), error;
  const llvm::Target *llvmTarget = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget)
    return module.emitError("no LLVM target for ") << triple << ": " << error;
  llvm::TargetOptions opts;
  std::unique_ptr<llvm::TargetMachine> tm(llvmTarget->createTargetMachine(
      triple, target.cpu, target.features, opts, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(tm->createDataLayout());
  // Kernels use explicit 512-bit vectors: keep them whole even on CPUs whose
  // tuning prefers 256-bit auto-vectorization.
  for (llvm::Function &f : *llvmModule) {
    if (f.isDeclaration())
      continue;
    f.addFnAttr("target-cpu", target.cpu);
    f.addFnAttr("target-features", target.features);
    f.addFnAttr("min-legal-vector-width", "512");
    f.addFnAttr("prefer-vector-width", "512");
  }

  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm.get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(*llvmModule, mam);

  if (!llPath.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream ll(llPath, ec);
    if (ec)
      return module.emitError("cannot write ") << llPath << ": " << ec.message();
    llvmModule->print(ll, nullptr);
  }

  std::string objPath = soPath + ".o";
  {
    std::error_code ec;
    llvm::raw_fd_ostream obj(objPath, ec, llvm::sys::fs::OF_None);
    if (ec)
      return module.emitError("cannot write ") << objPath << ": " << ec.message();
    llvm::legacy::PassManager cg;
    if (tm->addPassesToEmitFile(cg, obj, nullptr, llvm::CodeGenFileType::ObjectFile))
      return module.emitError("the target cannot emit object files");
    cg.run(*llvmModule);
  }

  // Link with the system's C compiler driver (clang-19 when present).
  auto linker = llvm::sys::findProgramByName("clang-19");
  if (!linker)
    linker = llvm::sys::findProgramByName("cc");
  if (!linker)
    return module.emitError("no linker found (clang-19 or cc) to build ") << soPath;
  std::vector<llvm::StringRef> argv{*linker, "-shared", "-o", soPath, objPath, "-lm"};
  std::string linkError;
  int rc = llvm::sys::ExecuteAndWait(*linker, argv, std::nullopt, {}, 0, 0, &linkError);
  llvm::sys::fs::remove(objPath);
  if (rc != 0)
    return module.emitError("linking ") << soPath << " failed: " << linkError;
  return success();
}

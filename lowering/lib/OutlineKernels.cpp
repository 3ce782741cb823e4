//===- OutlineKernels.cpp - one kernel per distinct (op, shape, schedule) --===//
#include "xfmr/Lowering/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMROUTLINEKERNELSPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// Attributes that vary per instance but not in the generated code.
bool isInstanceAttr(StringRef name) { return name == "layer"; }

/// The kernel's identity: op name, operand/result types, code attributes.
std::string kernelKey(Operation *op) {
  std::string key;
  llvm::raw_string_ostream os(key);
  os << op->getName() << "(";
  for (Type t : op->getOperandTypes())
    os << t << ",";
  os << ")->(";
  for (Type t : op->getResultTypes())
    os << t << ",";
  os << "){";
  for (NamedAttribute a : op->getAttrs())
    if (!isInstanceAttr(a.getName().strref()))
      os << a.getName().strref() << "=" << a.getValue() << ";";
  os << "}";
  return key;
}

/// How a kernel's work splits over threads: per row, or a constant count.
Attribute workAttr(Operation *op, Builder &b) {
  auto sched = op->getAttrOfType<ScheduleAttr>("schedule");
  auto cols = [](Value v) { return cast<ShapedType>(v.getType()).getDimSize(1); };
  auto rows = [](Value v) { return cast<ShapedType>(v.getType()).getDimSize(0); };
  int64_t tn = sched ? sched.getTileN() : 1;
  if (auto lin = dyn_cast<LinearOp>(op))
    return b.getI64IntegerAttr(llvm::divideCeil(cols(lin.getWeight()), tn)); // blocks
  if (auto head = dyn_cast<LMHeadOp>(op))
    return b.getI64IntegerAttr(llvm::divideCeil(rows(head.getWeight()), tn));
  if (auto att = dyn_cast<AttentionOp>(op))
    return b.getI64IntegerAttr(att.getCache().getType().getKvHeads());
  if (auto part = dyn_cast<AttentionPartialOp>(op))
    return b.getI64IntegerAttr(part.getCache().getType().getKvHeads() *
                               int64_t(part.getSplits()));
  return b.getStringAttr("rows");
}

StringRef shortName(Operation *op) {
  return op->getName().stripDialect();
}

struct OutlineKernels : mlir::xfmr::impl::XfmrOutlineKernelsPassBase<OutlineKernels> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::StringMap<func::FuncOp> kernels;
    unsigned counter = 0;
    SmallVector<func::FuncOp> forwards;
    for (auto f : module.getOps<func::FuncOp>())
      if (!f->hasAttr("xfmr.kernel"))
        forwards.push_back(f);
    for (func::FuncOp fwd : forwards) {
      SmallVector<Operation *> ops;
      fwd.walk([&](Operation *op) {
        if (isa<XfmrDialect>(op->getDialect()) && !isa<WeightOp, ConcatOp, DispatchOp>(op))
          ops.push_back(op);
      });
      for (Operation *op : ops) {
        std::string key = kernelKey(op);
        func::FuncOp kernel = kernels.lookup(key);
        if (!kernel) {
          OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
          auto type = b.getFunctionType(op->getOperandTypes(), op->getResultTypes());
          std::string name =
              ("xk_" + shortName(op) + "_" + Twine(counter++)).str();
          kernel = b.create<func::FuncOp>(op->getLoc(), name, type);
          kernel.setPrivate();
          kernel->setAttr("xfmr.kernel", b.getUnitAttr());
          kernel->setAttr("xfmr.work", workAttr(op, b));
          Block *body = kernel.addEntryBlock();
          b.setInsertionPointToStart(body);
          IRMapping map;
          map.map(op->getOperands(), body->getArguments());
          Operation *clone = b.clone(*op, map);
          for (NamedAttribute a : op->getAttrs())
            if (isInstanceAttr(a.getName().strref()))
              clone->setAttr(a.getName(), b.getI64IntegerAttr(0));
          b.create<func::ReturnOp>(op->getLoc(), clone->getResults());
          symbols.insert(kernel);
          kernels[key] = kernel;
        }
        OpBuilder b(op);
        auto dispatch = b.create<DispatchOp>(op->getLoc(), op->getResultTypes(),
                                             kernel.getSymName(),
                                             op->getOperands());
        for (NamedAttribute a : op->getAttrs())
          if (isInstanceAttr(a.getName().strref()))
            dispatch->setAttr(a.getName(), a.getValue());
        op->replaceAllUsesWith(dispatch->getResults());
        op->erase();
      }
    }
  }
};
} // namespace

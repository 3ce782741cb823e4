//===- TunableKernel.cpp - the kernels of a model the tuner searches -------===//
#include "xfmr/Autotune/TunableKernel.h"
#include "xfmr/IR/XfmrDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::xfmr;

namespace {
bool isTunable(Operation *op) { return isa<LinearOp, LMHeadOp>(op); }

std::string typeName(RankedTensorType t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t.getElementType();
  if (auto q = dyn_cast_or_null<QuantAttr>(t.getEncoding()))
    if (q.getBits() == 4)
      os << "g" << q.getGroup() << (q.getZeroPoint() ? "z" : "");
  return s;
}

std::string fusionsOf(Operation *op) {
  auto lin = dyn_cast<LinearOp>(op);
  if (!lin)
    return "";
  std::string f;
  if (lin.getNormGamma())
    f += "+norm";
  if (auto a = lin.getActivation())
    f += "+" + stringifyGatedActivation(*a).str();
  if (lin.getGated())
    f += "+gated";
  if (lin.getMultiplier())
    f += "+times";
  if (lin.getResidual())
    f += "+residual";
  return f;
}
} // namespace

std::string tune::TunableKernel::label() const {
  return family + " " + shape + " " + precision + (fusions.empty() ? "" : " " + fusions);
}

std::string tune::kernelSource(Operation *op) {
  MLIRContext *ctx = op->getContext();
  OpBuilder b(ctx);
  Location loc = UnknownLoc::get(ctx);
  OwningOpRef<ModuleOp> m = ModuleOp::create(loc);
  auto fn = func::FuncOp::create(
      loc, "forward", b.getFunctionType(op->getOperandTypes(), op->getResultTypes()));
  m->push_back(fn);
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping map;
  for (auto [i, v] : llvm::enumerate(op->getOperands()))
    map.map(v, body->getArgument(unsigned(i)));
  Operation *c = b.clone(*op, map);
  c->removeAttr("schedule");
  b.create<func::ReturnOp>(loc, c->getResults());
  std::string s;
  llvm::raw_string_ostream os(s);
  m->print(os);
  return s;
}

std::vector<tune::TunableKernel> tune::collectTunableKernels(ModuleOp module) {
  std::vector<TunableKernel> out;
  std::map<std::string, size_t> index;
  module.walk([&](Operation *op) {
    if (!isTunable(op) || op->hasAttr("schedule"))
      return;
    std::string src = kernelSource(op);
    auto [it, fresh] = index.try_emplace(src, out.size());
    if (!fresh) {
      ++out[it->second].uses;
      return;
    }
    auto w = cast<RankedTensorType>(op->getOperand(1).getType());
    TunableKernel k;
    k.family = isa<LinearOp>(op) ? "linear" : "lm_head";
    k.source = src;
    k.shape = std::to_string(w.getDimSize(0)) + "x" + std::to_string(w.getDimSize(1));
    k.precision = typeName(w);
    k.fusions = fusionsOf(op);
    k.uses = 1;
    out.push_back(k);
  });
  return out;
}

int64_t tune::applySchedules(ModuleOp module,
                             const std::map<std::string, std::string> &schedules,
                             std::string *error) {
  int64_t applied = 0;
  WalkResult r = module.walk([&](Operation *op) {
    if (!isTunable(op) || op->hasAttr("schedule"))
      return WalkResult::advance();
    auto it = schedules.find(kernelSource(op));
    if (it == schedules.end())
      return WalkResult::advance();
    Attribute a = parseAttribute(it->second, op->getContext());
    if (!isa_and_nonnull<ScheduleAttr>(a)) {
      *error = "stored schedule '" + it->second + "' does not parse";
      return WalkResult::interrupt();
    }
    op->setAttr("schedule", a);
    ++applied;
    return WalkResult::advance();
  });
  return r.wasInterrupted() ? -1 : applied;
}

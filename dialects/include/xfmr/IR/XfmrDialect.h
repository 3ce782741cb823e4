//===- XfmrDialect.h - the xfmr dialect -------------------------*- C++ -*-===//
#ifndef XFMR_IR_XFMRDIALECT_H
#define XFMR_IR_XFMRDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::xfmr {
/// An f64 attribute parameter written as a plain number.
inline FailureOr<llvm::APFloat> parseF64Parameter(AsmParser &parser) {
  double v;
  if (parser.parseFloat(v))
    return failure();
  return llvm::APFloat(v);
}
} // namespace mlir::xfmr

#include "xfmr/IR/XfmrOpsDialect.h.inc"
#include "xfmr/IR/XfmrEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "xfmr/IR/XfmrAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "xfmr/IR/XfmrOpsTypes.h.inc"

namespace mlir::xfmr {
/// Rotary embedding's inverse frequencies theta^(-2i/headDim), i < headDim/2,
/// with a rope scaling applied (Hugging Face's _compute_*_parameters), in
/// float64: the one definition the kernels, the reference and the fused
/// attention use.
SmallVector<double> ropeInverseFrequencies(int64_t headDim, double theta,
                                           RopeScalingAttr scaling);
} // namespace mlir::xfmr

#define GET_OP_CLASSES
#include "xfmr/IR/XfmrOps.h.inc"

namespace mlir::xfmr {
/// Checks a weight operand's type: f32/f16/bf16, or integers with an
/// #xfmr.quant encoding whose group divides `reductionDim`.
LogicalResult verifyWeightType(Operation *op, Type type, unsigned reductionDim);
} // namespace mlir::xfmr

#endif // XFMR_IR_XFMRDIALECT_H

//===- XfmrDialect.h - the xfmr dialect -------------------------*- C++ -*-===//
#ifndef XFMR_IR_XFMRDIALECT_H
#define XFMR_IR_XFMRDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "xfmr/IR/XfmrOpsDialect.h.inc"
#include "xfmr/IR/XfmrEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "xfmr/IR/XfmrAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "xfmr/IR/XfmrOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "xfmr/IR/XfmrOps.h.inc"

namespace mlir::xfmr {
/// Checks a weight operand's type: f32/f16/bf16, or integers with an
/// #xfmr.quant encoding whose group divides `reductionDim`.
LogicalResult verifyWeightType(Operation *op, Type type, unsigned reductionDim);
} // namespace mlir::xfmr

#endif // XFMR_IR_XFMRDIALECT_H

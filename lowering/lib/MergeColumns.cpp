//===- MergeColumns.cpp - weights side by side as one operand --------------===//
#include "MergeColumns.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// A weight view's columns: the named tensor, whether transposed, and the
/// offset (transposed: of the stored rows); offset -1 when `v` is not a
/// weight view.
struct Columns {
  StringRef name;
  bool transposed = false;
  int64_t offset = -1;
};
Columns columnsOf(Value v) {
  auto w = v.getDefiningOp<WeightOp>();
  if (!w)
    return {};
  return {w.getName(), w.getTransposed(),
          w.getColumnOffset() ? int64_t(*w.getColumnOffset()) : 0};
}

/// Whether `parts` (in order) are consecutive column views of one stored
/// tensor, all transposed or none (GPT-2's c_attn as Hugging Face stores
/// it, [E, 3E], or as GGUF does, [3E, E] read transposed); returns the
/// first one's columns.
std::optional<Columns> adjacentColumns(ArrayRef<Value> parts) {
  Columns first = columnsOf(parts[0]);
  if (first.offset < 0)
    return std::nullopt;
  int64_t next = first.offset;
  for (Value p : parts) {
    Columns c = columnsOf(p);
    if (c.offset != next || c.name != first.name || c.transposed != first.transposed)
      return std::nullopt;
    next += cast<ShapedType>(p.getType()).getShape().back();
  }
  return first;
}
} // namespace

RankedTensorType mlir::xfmr::mergedColumnsType(ArrayRef<Value> parts) {
  if (parts.empty())
    return {};
  auto t = cast<RankedTensorType>(parts[0].getType());
  SmallVector<int64_t> shape(t.getShape());
  shape.back() = 0;
  for (Value p : parts) {
    auto pt = cast<RankedTensorType>(p.getType());
    // Same element type and encoding: one quantization pass treated the
    // parts alike.
    if (!p.getDefiningOp<WeightOp>() || pt.getElementType() != t.getElementType() ||
        pt.getEncoding() != t.getEncoding() || pt.getRank() != t.getRank() ||
        pt.getShape().drop_back() != t.getShape().drop_back())
      return {};
    shape.back() += pt.getShape().back();
  }
  return RankedTensorType::get(shape, t.getElementType(), t.getEncoding());
}

Value mlir::xfmr::mergeColumns(ArrayRef<Value> parts, Operation *at) {
  RankedTensorType type = mergedColumnsType(parts);
  OpBuilder b(at);
  if (std::optional<Columns> c = adjacentColumns(parts)) {
    auto w = parts[0].getDefiningOp<WeightOp>();
    return b.create<WeightOp>(w.getLoc(), type, w.getNameAttr(),
                              c->offset ? b.getI64IntegerAttr(c->offset) : IntegerAttr(),
                              c->transposed ? b.getUnitAttr() : UnitAttr());
  }
  // The parts' weight ops (no operands) move up to the concat.
  for (Value p : parts)
    p.getDefiningOp()->moveBefore(at);
  return b.create<ConcatOp>(at->getLoc(), type, parts);
}

void mlir::xfmr::eraseMerged(ArrayRef<LinearOp> linears) {
  for (LinearOp l : linears) {
    SmallVector<Operation *> dead{l.getWeight().getDefiningOp()};
    if (l.getBias())
      dead.push_back(l.getBias().getDefiningOp());
    l.erase();
    for (Operation *d : dead)
      if (d->use_empty())
        d->erase(); // a concat's parts stay, as its operands
  }
}

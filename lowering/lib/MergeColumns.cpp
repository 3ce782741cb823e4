//===- MergeColumns.cpp - weights side by side as one operand --------------===//
#include "MergeColumns.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// The column offset of a weight view, or -1 when it is not a column view
/// of the named tensor (transposed views are never merged).
int64_t columnOffset(Value v, StringRef &name) {
  auto w = v.getDefiningOp<WeightOp>();
  if (!w || w.getTransposed())
    return -1;
  name = w.getName();
  return w.getColumnOffset() ? int64_t(*w.getColumnOffset()) : 0;
}

/// Whether `parts` (in order) are consecutive column views of one stored
/// tensor; returns the first one's offset.
std::optional<int64_t> adjacentColumns(ArrayRef<Value> parts) {
  StringRef name;
  int64_t first = columnOffset(parts[0], name), next = first;
  if (first < 0)
    return std::nullopt;
  for (Value p : parts) {
    StringRef n;
    int64_t off = columnOffset(p, n);
    if (off != next || n != name)
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
  if (std::optional<int64_t> offset = adjacentColumns(parts)) {
    auto w = parts[0].getDefiningOp<WeightOp>();
    return b.create<WeightOp>(w.getLoc(), type, w.getNameAttr(),
                              *offset ? b.getI64IntegerAttr(*offset) : IntegerAttr(),
                              UnitAttr());
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

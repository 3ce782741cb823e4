#include "WeightStore.h"

#include "Numerics.h"

#include "xfmr/io/quantize.h"

#include <cassert>
#include <cmath>
#include <map>
#include <string>

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference::detail {

std::optional<unsigned> reductionDimOf(OpOperand &use) {
  Operation *op = use.getOwner();
  if (auto lin = dyn_cast<LinearOp>(op); lin && &use == &lin.getWeightMutable())
    return 0;
  if (auto head = dyn_cast<LMHeadOp>(op); head && &use == &head.getWeightMutable())
    return 1;
  if (auto emb = dyn_cast<EmbeddingOp>(op); emb && &use == &emb.getTableMutable())
    return 1;
  return std::nullopt;
}

namespace {
/// The first NaN or infinity of `v`: a weight that cannot compute.
std::optional<size_t> firstNonFinite(const std::vector<float> &v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      return i;
  return std::nullopt;
}
} // namespace

namespace {
std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + std::to_string(d);
  return s.empty() ? "scalar" : s;
}

/// The view `w` names of the stored tensor [srcRows, srcCols] (a vector:
/// one row). Without `columns from` the stored shape must be the view's
/// (transposed: the view's reversed). `columns from N` takes the columns
/// [N, N + cols) of the stored tensor, or with `transposed` of the stored
/// tensor transposed, which are the stored rows [N, N + cols), whole.
FailureOr<WeightData> viewOf(WeightOp w, const StoredTensor &s) {
  auto type = cast<RankedTensorType>(w.getType());
  ArrayRef<int64_t> vshape = type.getShape();
  auto fail = [&]() {
    return w.emitOpError() << "the view " << shapeString(vshape)
                           << (w.getColumnOffset()
                                   ? " columns from " + std::to_string(*w.getColumnOffset())
                                   : std::string())
                           << (w.getTransposed() ? " transposed" : "")
                           << " does not fit the stored tensor '" << w.getName()
                           << "' of shape " << shapeString(s.shape);
  };
  if (type.getRank() != 1 && type.getRank() != 2)
    return w.emitOpError() << "only 1-D and 2-D weights are interpreted, got "
                           << shapeString(vshape);
  if (s.shape.size() != size_t(type.getRank()))
    return fail();
  const bool t = w.getTransposed();
  const int64_t rows = type.getRank() == 2 ? vshape[0] : 1, cols = vshape.back();
  const int64_t srcRows = s.shape.size() == 2 ? s.shape[0] : 1;
  const int64_t srcCols = s.shape.back();
  // The dimension of the stored tensor the view's columns come from (its
  // columns, or transposed its rows), and the one it takes whole.
  const int64_t from = t ? srcRows : srcCols, whole = t ? srcCols : srcRows;
  const int64_t offset = w.getColumnOffset() ? int64_t(*w.getColumnOffset()) : 0;
  if (whole != rows ||
      (w.getColumnOffset() ? cols > from || offset > from - cols : cols != from))
    return fail();
  WeightData d{rows, cols, std::vector<float>(size_t(rows * cols))};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      d.values[size_t(r * cols + c)] =
          t ? s.data[size_t((offset + c) * srcCols + r)]
            : s.data[size_t(r * srcCols + offset + c)];
  return d;
}

/// Rounds `d` as the weight's type stores it, the way the compiled model
/// packs it (io::fakeQuantize: the same code as the packer).
LogicalResult applyType(WeightOp w, std::optional<unsigned> reductionDim,
                        const StoredTensor &stored, WeightData &d) {
  // Only a quantized weight's numbers depend on the reduction dimension.
  auto type = cast<RankedTensorType>(w.getType());
  Type elem = type.getElementType();
  auto quant = dyn_cast_or_null<QuantAttr>(type.getEncoding());
  if (!quant) {
    if (elem.isBF16())
      io::fakeQuantize(d.values, d.rows, d.cols, true, {io::WeightFormat::BF16});
    else if (elem.isF16())
      for (float &v : d.values)
        v = float(roundToHalf(v));
    else if (!elem.isF32())
      return w.emitOpError() << "weight element type " << elem
                             << " is not interpreted";
    return success();
  }
  assert(reductionDim && "plain reads of quantized weights are refused in load()");
  io::QuantScheme scheme;
  scheme.format = quant.getBits() == 8   ? io::WeightFormat::Int8
                  : quant.getBits() == 6 ? io::WeightFormat::Int6
                                         : io::WeightFormat::Int4;
  scheme.group = quant.getGroup();
  scheme.f16Scales = quant.getScale().isF16();
  scheme.zeroPoint = quant.getZeroPoint();
  scheme.superBlock = quant.getSuperBlock();
  // The verifiers checked the group against this consumer's reduction, but
  // the interpreter must not loop on a zero group whatever it is given.
  int64_t length = *reductionDim == 0 ? d.rows : d.cols;
  // Blocks the file already holds in this scheme, read along their rows
  // (a transposed linear view, whole stored rows even with `columns from`,
  // or a table as stored): the stored values are the weight's values;
  // rounding them again would change them.
  const bool alongStoredRows = w.getTransposed() == (*reductionDim == 0) &&
                               (w.getTransposed() || !w.getColumnOffset());
  if (stored.storedAs && io::sameScheme(*stored.storedAs, scheme) && alongStoredRows)
    return success();
  if ((scheme.format != io::WeightFormat::Int8 || scheme.group != 0) &&
      (scheme.group <= 0 || length % scheme.group != 0 ||
       (scheme.superBlock && length % scheme.superBlock != 0)))
    return w.emitOpError() << "quant group " << scheme.group
                           << " does not divide the reduction dimension " << length;
  io::fakeQuantize(d.values, d.rows, d.cols, *reductionDim == 0, scheme);
  return success();
}
} // namespace

WeightStore::Key WeightStore::keyOf(Value weight,
                                    std::optional<unsigned> reductionDim) {
  bool quantized = isa_and_nonnull<QuantAttr>(
      cast<RankedTensorType>(weight.getType()).getEncoding());
  return {weight, quantized && reductionDim ? int(*reductionDim) : -1};
}

LogicalResult WeightStore::load(func::FuncOp fn, const WeightLoader &loader) {
  // Stored tensors by name, for this call only: several views share one
  // (GPT-2's c_attn holds Q, K and V), the materialized views stay.
  std::map<std::string, std::optional<StoredTensor>> stored;
  auto storedOf = [&](WeightOp w) -> const StoredTensor * {
    std::string name = w.getName().str();
    auto it = stored.find(name);
    if (it == stored.end())
      it = stored.emplace(name, loader(name)).first;
    if (!it->second) {
      w.emitOpError() << "weight '" << name << "' is not in the model file";
      return nullptr;
    }
    const StoredTensor &s = *it->second;
    int64_t elements = 1;
    bool valid = true;
    for (int64_t d : s.shape)
      valid = valid && d >= 0 && !__builtin_mul_overflow(elements, d, &elements);
    if (!valid || elements != int64_t(s.data.size())) {
      w.emitOpError() << "the loader gave '" << name << "' " << s.data.size()
                      << " values for shape " << shapeString(s.shape);
      return nullptr;
    }
    return &s;
  };
  // A concat's parts, each viewed and typed as the concat's use reads it,
  // side by side (per-column scales and groups along the rows do not cross
  // the seams, so this is the concatenation's own rounding).
  WalkResult rc = fn.walk([&](ConcatOp c) {
    for (OpOperand &use : c->getUses()) {
      std::optional<unsigned> dim = reductionDimOf(use);
      Key key = keyOf(c, dim);
      if (data_.count(key))
        continue;
      auto type = cast<RankedTensorType>(c.getType());
      WeightData all{type.getRank() == 2 ? type.getDimSize(0) : 1, type.getShape().back(), {}};
      all.values.resize(size_t(all.rows * all.cols));
      int64_t at = 0;
      for (Value pv : c.getParts()) {
        auto w = pv.getDefiningOp<WeightOp>();
        const StoredTensor *s = storedOf(w);
        if (!s)
          return WalkResult::interrupt();
        FailureOr<WeightData> d = viewOf(w, *s);
        if (failed(d) || failed(applyType(w, dim, *s, *d)))
          return WalkResult::interrupt();
        for (int64_t r = 0; r < all.rows; ++r)
          std::copy(d->row(r), d->row(r) + d->cols, all.values.begin() + r * all.cols + at);
        at += d->cols;
      }
      if (std::optional<size_t> i = firstNonFinite(all.values)) {
        c.emitOpError() << "the concatenated weight holds a non-finite value at element " << *i;
        return WalkResult::interrupt();
      }
      data_[key] = std::move(all);
    }
    return WalkResult::advance();
  });
  if (rc.wasInterrupted())
    return failure();
  WalkResult r = fn.walk([&](WeightOp w) {
    std::string name = w.getName().str();
    for (OpOperand &use : w->getUses()) {
      if (isa<ConcatOp>(use.getOwner()))
        continue; // read through the concat, above
      std::optional<unsigned> dim = reductionDimOf(use);
      auto quant = dyn_cast_or_null<QuantAttr>(
          cast<RankedTensorType>(w.getType()).getEncoding());
      if (quant && !dim) {
        w.emitOpError() << "weight '" << name << "' is quantized (" << quant << ") but '"
                        << use.getOwner()->getName()
                        << "' reads it as plain numbers (no reduction dimension)";
        return WalkResult::interrupt();
      }
      Key key = keyOf(w, dim);
      if (data_.count(key))
        continue;
      const StoredTensor *s = storedOf(w);
      if (!s)
        return WalkResult::interrupt();
      FailureOr<WeightData> d = viewOf(w, *s);
      if (failed(d) || failed(applyType(w, dim, *s, *d)))
        return WalkResult::interrupt();
      if (std::optional<size_t> i = firstNonFinite(d->values)) {
        w.emitOpError() << "weight '" << name << "' holds a non-finite value at element " << *i;
        return WalkResult::interrupt();
      }
      data_[key] = std::move(*d);
    }
    return WalkResult::advance();
  });
  return failure(r.wasInterrupted());
}

const WeightData *WeightStore::get(Operation *user, Value v) const {
  for (OpOperand &use : user->getOpOperands()) {
    if (use.get() != v)
      continue;
    auto it = data_.find(keyOf(v, reductionDimOf(use)));
    if (it != data_.end())
      return &it->second;
    break;
  }
  user->emitOpError() << "operand " << v.getType()
                      << " is not a weight (xfmr.weight) where one is expected";
  return nullptr;
}

} // namespace xfmr::reference::detail

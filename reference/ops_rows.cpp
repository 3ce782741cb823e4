// Row-wise ops: the embedding, the norms, the element-wise ops and rotary
// embeddings. Each row of an activation is one token.
#include "Frame.h"
#include "Numerics.h"

#include <cmath>

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference::detail {
namespace {

LogicalResult embedding(EmbeddingOp op, Frame &f) {
  const WeightData *table = f.weight(op, op.getTable());
  if (!table)
    return failure();
  const WeightData *positions = nullptr;
  if (op.getPositions() && !(positions = f.weight(op, op.getPositions())))
    return failure();
  Tensor out(f.rows(), table->cols);
  for (int64_t t = 0; t < f.rows(); ++t) {
    int32_t token = f.tokens()[size_t(t)];
    if (token < 0 || token >= table->rows)
      return op.emitOpError() << "token " << token << " (row " << t
                              << ") is outside the vocabulary of " << table->rows;
    int64_t p = f.pos() + t;
    if (positions && p >= positions->rows)
      return op.emitOpError() << "position " << p << " is past the "
                              << positions->rows << " learned positions";
    for (int64_t d = 0; d < table->cols; ++d)
      out.row(t)[d] = double(table->row(token)[d]) +
                      (positions ? double(positions->row(p)[d]) : 0.0);
  }
  f.define(op.getResult(), std::move(out));
  return success();
}

LogicalResult layerNormOp(LayerNormOp op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  const WeightData *g = x ? f.weight(op, op.getGamma()) : nullptr;
  const WeightData *b = g ? f.weight(op, op.getBeta()) : nullptr;
  if (!b)
    return failure();
  Tensor y(x->rows, x->cols);
  double eps = op.getEpsilon().convertToDouble();
  for (int64_t r = 0; r < x->rows; ++r)
    layerNorm(x->row(r), x->cols, g->values.data(), b->values.data(), eps, y.row(r));
  f.define(op.getResult(), std::move(y));
  return success();
}

LogicalResult rmsNormOp(RMSNormOp op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  const WeightData *g = x ? f.weight(op, op.getGamma()) : nullptr;
  if (!g)
    return failure();
  Tensor y(x->rows, x->cols);
  double eps = op.getEpsilon().convertToDouble();
  for (int64_t r = 0; r < x->rows; ++r)
    rmsNorm(x->row(r), x->cols, g->values.data(), eps, y.row(r));
  f.define(op.getResult(), std::move(y));
  return success();
}

template <typename OpT, double (*Fn)(double)>
LogicalResult unary(OpT op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  if (!x)
    return failure();
  Tensor y = *x;
  for (double &v : y.data)
    v = Fn(v);
  f.define(op.getResult(), std::move(y));
  return success();
}

LogicalResult add(AddOp op, Frame &f) {
  const Tensor *a = f.activation(op, op.getLhs());
  const Tensor *b = a ? f.activation(op, op.getRhs()) : nullptr;
  if (!b)
    return failure();
  Tensor y = *a;
  for (size_t i = 0; i < y.data.size(); ++i)
    y.data[i] += b->data[i];
  f.define(op.getResult(), std::move(y));
  return success();
}

LogicalResult glu(GLUOp op, Frame &f) {
  const Tensor *gate = f.activation(op, op.getGate());
  const Tensor *up = gate ? f.activation(op, op.getUp()) : nullptr;
  if (!up)
    return failure();
  Tensor y = *gate;
  for (size_t i = 0; i < y.data.size(); ++i)
    y.data[i] = activate(op.getActivation(), y.data[i]) * up->data[i];
  f.define(op.getResult(), std::move(y));
  return success();
}

/// Hugging Face Llama's "rotate half": within each head, element i pairs
/// with i + head_dim/2 and the pair turns by (pos + t) * inv_freq[i]. The
/// frequencies (rope scaling applied) are the dialect's one definition,
/// ropeInverseFrequencies; test/reference checks them against Hugging
/// Face's formulas.
LogicalResult rotary(RotaryOp op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  if (!x)
    return failure();
  SmallVector<double> inv = op.getInverseFrequencies();
  Tensor y(x->rows, x->cols);
  for (int64_t t = 0; t < x->rows; ++t)
    rotate(x->row(t), x->cols, int64_t(op.getHeadDim()), double(f.pos() + t), inv, y.row(t));
  f.define(op.getResult(), std::move(y));
  return success();
}

} // namespace

void registerRowOps(HandlerRegistry &r) {
  r.add<EmbeddingOp>(embedding);
  r.add<LayerNormOp>(layerNormOp);
  r.add<RMSNormOp>(rmsNormOp);
  r.add<GeluOp>(unary<GeluOp, gelu>);
  r.add<SiluOp>(unary<SiluOp, silu>);
  r.add<AddOp>(add);
  r.add<GLUOp>(glu);
  r.add<RotaryOp>(rotary);
}

} // namespace xfmr::reference::detail

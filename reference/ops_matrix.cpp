// Matrix products: xfmr.linear with all its optional parts, and the LM head.
// xfmr.weight itself does nothing when run: WeightStore materialized every
// weight once, and consumers read them through Frame::weight.
#include "Frame.h"
#include "Numerics.h"

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference::detail {
namespace {

LogicalResult weight(WeightOp, Frame &) { return success(); }
// Concatenated weights are materialized by the WeightStore too.
LogicalResult concat(ConcatOp, Frame &) { return success(); }

/// act(norm(x) W + b) * u + r, the parts in the order the op states them
/// (gated: act(norm(x) Wg + bg) * (norm(x) Wu + bu) * u + r).
LogicalResult linear(LinearOp op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  const WeightData *w = x ? f.weight(op, op.getWeight()) : nullptr;
  if (!w)
    return failure();
  const WeightData *bias = nullptr, *gamma = nullptr, *beta = nullptr;
  const Tensor *times = nullptr, *residual = nullptr;
  if ((op.getBias() && !(bias = f.weight(op, op.getBias()))) ||
      (op.getNormGamma() && !(gamma = f.weight(op, op.getNormGamma()))) ||
      (op.getNormBeta() && !(beta = f.weight(op, op.getNormBeta()))) ||
      (op.getMultiplier() && !(times = f.activation(op, op.getMultiplier()))) ||
      (op.getResidual() && !(residual = f.activation(op, op.getResidual()))))
    return failure();
  std::function<void(Tensor &)> norm;
  if (gamma) {
    if (!op.getNormEpsilon())
      return op.emitOpError("a fused norm needs norm_epsilon");
    double eps = op.getNormEpsilon()->convertToDouble();
    // The same row functions as xfmr.layer_norm / xfmr.rms_norm, so fused
    // and unfused IR agree exactly.
    norm = [gamma, beta, eps](Tensor &t) {
      for (int64_t r = 0; r < t.rows; ++r)
        if (beta)
          layerNorm(t.row(r), t.cols, gamma->values.data(), beta->values.data(),
                    eps, t.row(r));
        else
          rmsNorm(t.row(r), t.cols, gamma->values.data(), eps, t.row(r));
    };
  }
  const Tensor &in = f.prepared(op, *x, norm);
  const int64_t K = w->rows, N = w->cols;
  std::optional<GatedActivation> act = op.getActivation();
  // Gated: columns [0, N/2) are the gate, [N/2, N) the up projection.
  const bool gated = op.getGated();
  const int64_t outN = gated ? N / 2 : N;
  Tensor y(in.rows, outN);
  std::vector<double> acc(static_cast<size_t>(N));
  for (int64_t r = 0; r < in.rows; ++r) {
    double *out = y.row(r);
    if (bias)
      std::copy(bias->values.begin(), bias->values.end(), acc.begin());
    else
      std::fill(acc.begin(), acc.end(), 0.0);
    // k outer: W is input-major, so each step streams one row of it.
    for (int64_t k = 0; k < K; ++k) {
      double xk = in.row(r)[k];
      const float *wk = w->row(k);
      for (int64_t n = 0; n < N; ++n)
        acc[size_t(n)] += xk * double(wk[n]);
    }
    for (int64_t n = 0; n < outN; ++n) {
      out[n] = acc[size_t(n)];
      if (act)
        out[n] = activate(*act, out[n]);
      if (gated)
        out[n] *= acc[size_t(outN + n)];
      if (times)
        out[n] *= times->row(r)[n];
      if (residual)
        out[n] += residual->row(r)[n];
    }
  }
  f.define(op.getResult(), std::move(y));
  return success();
}

/// logits[t, v] = x[t] . W[v]: W is vocabulary-major [V, D].
LogicalResult lmHead(LMHeadOp op, Frame &f) {
  const Tensor *x = f.activation(op, op.getInput());
  const WeightData *w = x ? f.weight(op, op.getWeight()) : nullptr;
  if (!w)
    return failure();
  const Tensor &in = f.prepared(op, *x, nullptr);
  Tensor y(in.rows, w->rows);
  for (int64_t r = 0; r < in.rows; ++r)
    for (int64_t v = 0; v < w->rows; ++v) {
      double s = 0;
      for (int64_t d = 0; d < w->cols; ++d)
        s += in.row(r)[d] * double(w->row(v)[d]);
      y.row(r)[v] = s;
    }
  f.define(op.getResult(), std::move(y));
  return success();
}

} // namespace

void registerMatrixOps(HandlerRegistry &r) {
  r.add<WeightOp>(weight);
  r.add<ConcatOp>(concat);
  r.add<LinearOp>(linear);
  r.add<LMHeadOp>(lmHead);
}

} // namespace xfmr::reference::detail

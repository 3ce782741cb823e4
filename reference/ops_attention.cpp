// Attention over the KV cache. One routine serves the three ops:
// xfmr.attention normalizes the softmax state of the whole range of cached
// positions, xfmr.attention_partial writes the state of each of `splits`
// ranges, xfmr.attention_combine merges such states.
#include "Frame.h"
#include "Numerics.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference::detail {
namespace {

/// The running max of a range without positions, as the kernel writes it
/// (finite, so exp(m_s - m) of a merge is 0, never NaN).
constexpr double kEmptyMax = -1.0e30;

/// The softmax state of one query head vector over cached positions
/// [lo, hi): m = max_j s_j, l = sum_j exp(s_j - m), acc = sum_j exp(s_j -
/// m) V[j], with s_j = q . K[j] * scale. The layout of a partial result.
struct RangeState {
  std::vector<double> acc;
  double m = kEmptyMax, l = 0;
};

RangeState attendRange(const KVCacheStore &cache, int64_t layer, int64_t g,
                       const double *q, double scale, int64_t lo, int64_t hi) {
  const int64_t hd = cache.headDim();
  RangeState st;
  st.acc.assign(size_t(hd), 0.0);
  std::vector<double> scores;
  for (int64_t j = lo; j < hi; ++j) {
    const double *k = cache.load(layer, KV::Keys, g, j);
    double s = 0;
    for (int64_t d = 0; d < hd; ++d)
      s += q[d] * k[d];
    scores.push_back(s * scale);
    st.m = std::max(st.m, scores.back());
  }
  for (int64_t j = lo; j < hi; ++j) {
    double p = std::exp(scores[size_t(j - lo)] - st.m);
    st.l += p;
    const double *v = cache.load(layer, KV::Values, g, j);
    for (int64_t d = 0; d < hd; ++d)
      st.acc[size_t(d)] += p * v[d];
  }
  return st;
}

/// The rows of q, k and v and where each head block starts: three inputs,
/// or one packed [q | k | v] (a fused QKV projection).
struct QKV {
  const Tensor *q = nullptr, *k = nullptr, *v = nullptr;
  int64_t kCol = 0, vCol = 0; // q's heads start at column 0
};

/// Shared by xfmr.attention and xfmr.attention_partial: appends the call's
/// keys and values to layer `layer` of the cache, then hands `emit` the
/// states of `splits` ranges of cached positions for every row and head.
template <typename AttnOp>
LogicalResult attend(AttnOp op, Frame &f, int64_t splits,
                     llvm::function_ref<void(int64_t t, int64_t h,
                                             ArrayRef<RangeState>)> emit) {
  KVCacheStore &cache = f.cache();
  const int64_t layer = int64_t(op.getLayer()), heads = int64_t(op.getNumHeads());
  const int64_t kvh = cache.kvHeads(), hd = cache.headDim();
  if (f.pos() + f.rows() > cache.context())
    return op.emitOpError() << "positions " << f.pos() << ".." << f.pos() + f.rows() - 1
                            << " do not fit the cache's context of "
                            << cache.context();
  QKV in;
  ValueRange inputs = op.getInputs();
  if (op.isPacked()) {
    in.q = in.k = in.v = f.activation(op, inputs[0]);
    in.kCol = heads * hd;
    in.vCol = (heads + kvh) * hd;
  } else {
    in.q = f.activation(op, inputs[0]);
    in.k = in.q ? f.activation(op, inputs[1]) : nullptr;
    in.v = in.k ? f.activation(op, inputs[2]) : nullptr;
  }
  if (!in.v)
    return failure();
  // rope_theta (xfmr-fuse-rotary): q and k rotated at their positions
  // first, as the rotary ops the pass folded in did.
  Tensor qRot, kRot;
  SmallVector<double> inv = op.getRopeInverseFrequencies();
  if (!inv.empty()) {
    qRot = Tensor(f.rows(), heads * hd);
    kRot = Tensor(f.rows(), kvh * hd);
    for (int64_t t = 0; t < f.rows(); ++t) {
      rotate(in.q->row(t), heads * hd, hd, double(f.pos() + t), inv, qRot.row(t));
      rotate(in.k->row(t) + in.kCol, kvh * hd, hd, double(f.pos() + t), inv, kRot.row(t));
    }
    in.q = &qRot;
    in.k = &kRot;
    in.kCol = 0;
  }
  for (int64_t t = 0; t < f.rows(); ++t)
    for (int64_t g = 0; g < kvh; ++g) {
      cache.store(layer, KV::Keys, g, f.pos() + t, in.k->row(t) + in.kCol + g * hd);
      cache.store(layer, KV::Values, g, f.pos() + t, in.v->row(t) + in.vCol + g * hd);
    }
  const double scale = op.getScaleOrDefault();
  const int64_t group = heads / kvh; // query heads per kv head
  std::vector<RangeState> states(static_cast<size_t>(splits));
  for (int64_t t = 0; t < f.rows(); ++t) {
    // Causal: row t sees positions 0 .. pos + t (a sliding window would
    // raise the first one).
    const int64_t len = f.pos() + t + 1;
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t s = 0; s < splits; ++s)
        states[size_t(s)] = attendRange(cache, layer, h / group, in.q->row(t) + h * hd,
                                        scale, s * len / splits, (s + 1) * len / splits);
      emit(t, h, states);
    }
  }
  return success();
}

LogicalResult attention(AttentionOp op, Frame &f) {
  const int64_t hd = f.cache().headDim();
  Tensor out(f.rows(), int64_t(op.getNumHeads()) * hd);
  auto emit = [&](int64_t t, int64_t h, ArrayRef<RangeState> st) {
    for (int64_t d = 0; d < hd; ++d)
      out.row(t)[h * hd + d] = st[0].acc[size_t(d)] / st[0].l;
  };
  if (failed(attend(op, f, 1, emit)))
    return failure();
  f.define(op.getResult(), std::move(out));
  return success();
}

LogicalResult attentionPartial(AttentionPartialOp op, Frame &f) {
  const int64_t hd = f.cache().headDim(), S = int64_t(op.getSplits());
  Tensor out(f.rows(), int64_t(op.getNumHeads()) * S * (hd + 2));
  auto emit = [&](int64_t t, int64_t h, ArrayRef<RangeState> st) {
    for (int64_t s = 0; s < S; ++s) {
      double *base = out.row(t) + (h * S + s) * (hd + 2);
      std::copy(st[size_t(s)].acc.begin(), st[size_t(s)].acc.end(), base);
      base[hd] = st[size_t(s)].m;
      base[hd + 1] = st[size_t(s)].l;
    }
  };
  if (failed(attend(op, f, S, emit)))
    return failure();
  f.define(op.getResult(), std::move(out));
  return success();
}

/// Per row and head: m = max_s m_s, l = sum_s l_s exp(m_s - m),
/// out = sum_s acc_s exp(m_s - m) / l.
LogicalResult attentionCombine(AttentionCombineOp op, Frame &f) {
  const Tensor *p = f.activation(op, op.getPartial());
  if (!p)
    return failure();
  const int64_t H = int64_t(op.getNumHeads()), hd = int64_t(op.getHeadDim()),
                S = int64_t(op.getSplits());
  Tensor out(p->rows, H * hd);
  for (int64_t t = 0; t < p->rows; ++t)
    for (int64_t h = 0; h < H; ++h) {
      auto range = [&](int64_t s) { return p->row(t) + (h * S + s) * (hd + 2); };
      double m = kEmptyMax, l = 0;
      for (int64_t s = 0; s < S; ++s)
        m = std::max(m, range(s)[hd]);
      double *o = out.row(t) + h * hd;
      for (int64_t s = 0; s < S; ++s) {
        double c = std::exp(range(s)[hd] - m);
        l += range(s)[hd + 1] * c;
        for (int64_t d = 0; d < hd; ++d)
          o[d] += range(s)[d] * c;
      }
      for (int64_t d = 0; d < hd; ++d)
        o[d] /= l;
    }
  f.define(op.getResult(), std::move(out));
  return success();
}

} // namespace

void registerAttentionOps(HandlerRegistry &r) {
  r.add<AttentionOp>(attention);
  r.add<AttentionPartialOp>(attentionPartial);
  r.add<AttentionCombineOp>(attentionCombine);
}

} // namespace xfmr::reference::detail

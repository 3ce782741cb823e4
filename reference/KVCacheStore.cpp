#include "KVCacheStore.h"

#include "Numerics.h"

#include <algorithm>

using namespace mlir;

namespace xfmr::reference::detail {

KVCacheStore::KVCacheStore(mlir::xfmr::KVCacheType type)
    : layers_(type.getLayers()), kvHeads_(type.getKvHeads()),
      context_(type.getContextLength()), headDim_(type.getHeadDim()) {
  // The type's verifier admits exactly these three.
  Type e = type.getElementType();
  storage_ = e.isF16() ? Storage::F16 : e.isInteger(8) ? Storage::Int8 : Storage::F32;
}

size_t KVCacheStore::offset(int64_t layer, KV which, int64_t head,
                            int64_t position) const {
  return size_t((((layer * 2 + int64_t(which)) * kvHeads_ + head) * context_ +
                 position) *
                headDim_);
}

void KVCacheStore::store(int64_t layer, KV which, int64_t head,
                         int64_t position, const double *x) {
  if (data_.empty())
    data_.assign(size_t(layers_ * 2 * kvHeads_ * context_ * headDim_), 0.0);
  double *dst = data_.data() + offset(layer, which, head, position);
  std::copy(x, x + headDim_, dst);
  switch (storage_) {
  case Storage::F32:
    break;
  case Storage::F16:
    for (int64_t i = 0; i < headDim_; ++i)
      dst[i] = roundToHalf(dst[i]);
    break;
  case Storage::Int8:
    roundInt8(dst, headDim_);
    break;
  }
}

const double *KVCacheStore::load(int64_t layer, KV which, int64_t head,
                                 int64_t position) const {
  return data_.data() + offset(layer, which, head, position);
}

void KVCacheStore::clear() { data_.clear(); }

} // namespace xfmr::reference::detail

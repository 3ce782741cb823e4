// The interpreter's KV cache: what the runtime's cache holds, as the cache
// type says (`!xfmr.kv_cache<layers, heads, context, head_dim, f32|f16|i8>`),
// in float64. Values are stored rounded as the runtime stores them, so
// attention reads back exactly what a compiled model would.
#ifndef XFMR_REFERENCE_KVCACHESTORE_H
#define XFMR_REFERENCE_KVCACHESTORE_H

#include "xfmr/IR/XfmrDialect.h"

#include <cstdint>
#include <vector>

namespace xfmr::reference::detail {

enum class KV { Keys = 0, Values = 1 };

class KVCacheStore {
public:
  explicit KVCacheStore(mlir::xfmr::KVCacheType type);

  int64_t layers() const { return layers_; }
  int64_t kvHeads() const { return kvHeads_; }
  int64_t context() const { return context_; }
  int64_t headDim() const { return headDim_; }

  /// Stores one head vector (headDim values) at `position`, rounded as the
  /// storage type does: f32 as is (the interpreter's reals), f16 to half,
  /// i8 to codes with one scale max|x| / 127 per head vector.
  void store(int64_t layer, KV which, int64_t head, int64_t position,
             const double *x);
  /// The stored head vector at `position` (attention stores every position
  /// it reads before reading it).
  const double *load(int64_t layer, KV which, int64_t head,
                     int64_t position) const;
  /// Forgets every position (back to an empty cache).
  void clear();

private:
  enum class Storage { F32, F16, Int8 };
  size_t offset(int64_t layer, KV which, int64_t head, int64_t position) const;

  int64_t layers_, kvHeads_, context_, headDim_;
  Storage storage_;
  // [layer][k|v][head][position][head_dim], the runtime's layout; allocated
  // on the first store so an interpreter that never runs costs nothing.
  std::vector<double> data_;
};

} // namespace xfmr::reference::detail

#endif

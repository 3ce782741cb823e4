// RUN: xfmr-opt %s -xfmr-kv-cache-precision="precision=int8" | FileCheck %s --check-prefix=INT8
// RUN: xfmr-opt %s -xfmr-kv-cache-precision="precision=f16" | FileCheck %s --check-prefix=F16
// RUN: not xfmr-opt %s -xfmr-kv-cache-precision="precision=f8" 2>&1 | FileCheck %s --check-prefix=BAD

// Only the cache's storage changes; attention still takes and returns f32.
// INT8-LABEL: func.func @forward
// INT8-SAME: !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, i8>
// INT8: xfmr.attention({{.*}} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, i8> -> tensor<?x16xf32>
// F16: !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f16>
// BAD: error: kv cache precision must be f32, f16 or int8, got 'f8'
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
func.func @forward(%q: tensor<?x16xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %a = xfmr.attention(%q, %q, %q), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

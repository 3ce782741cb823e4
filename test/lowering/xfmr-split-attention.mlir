// RUN: xfmr-opt %s -split-input-file -xfmr-split-attention="splits=4" | FileCheck %s
// RUN: not xfmr-opt %s -split-input-file -xfmr-split-attention="splits=1" 2>&1 | FileCheck %s --check-prefix=BAD

// Each attention becomes a partial over 4 ranges of cached positions per
// kv head (4 heads x 4 ranges x (head_dim 8 + 2) per row) and a combine.
!cache = !xfmr.kv_cache<layers = 2, heads = 2, context = 32, head_dim = 8, f32>
// CHECK-LABEL: func.func @split
// CHECK: %[[P:.+]] = xfmr.attention_partial(%arg0), %arg2 at %arg1 {layer = 1 : i64, num_heads = 4 : i64, splits = 4 : i64} : (tensor<?x64xf32>), !xfmr.kv_cache<layers = 2, heads = 2, context = 32, head_dim = 8, f32> -> tensor<?x160xf32>
// CHECK: %[[C:.+]] = xfmr.attention_combine %[[P]] {head_dim = 8 : i64, num_heads = 4 : i64, splits = 4 : i64} : tensor<?x160xf32> -> tensor<?x32xf32>
// CHECK-NOT: xfmr.attention(
// CHECK: return %[[C]]
// BAD: error: xfmr-split-attention needs splits >= 2, got 1
func.func @split(%qkv: tensor<?x64xf32>, %pos: index, %cache: !cache) -> tensor<?x32xf32> {
  %a = xfmr.attention(%qkv), %cache at %pos {layer = 1 : i64, num_heads = 4 : i64} : (tensor<?x64xf32>), !cache -> tensor<?x32xf32>
  return %a : tensor<?x32xf32>
}

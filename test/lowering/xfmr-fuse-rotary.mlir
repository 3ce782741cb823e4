// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-rotary | FileCheck %s

// Llama: q and k are rotated at the attention's position; the attention
// takes them unrotated with rope_theta and rope_scaling.
!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @llama_block
// CHECK-NOT: xfmr.rotary
// CHECK: xfmr.attention(%arg0, %arg1, %arg2), %arg4 at %arg3 {layer = 0 : i64, num_heads = 2 : i64, rope_scaling = #xfmr.rope_scaling<kind = "llama3", factor = 8.000000e+00, original_context = 8>, rope_theta = 5.000000e+05 : f64}
func.func @llama_block(%q: tensor<?x16xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %qr = xfmr.rotary %q at %pos {head_dim = 8 : i64, theta = 5.0e5 : f64, scaling = #xfmr.rope_scaling<kind = "llama3", factor = 8.0, original_context = 8>} : tensor<?x16xf32>
  %kr = xfmr.rotary %k at %pos {head_dim = 8 : i64, theta = 5.0e5 : f64, scaling = #xfmr.rope_scaling<kind = "llama3", factor = 8.0, original_context = 8>} : tensor<?x8xf32>
  %a = xfmr.attention(%qr, %kr, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// Left alone: k's rotary has another use, and q and k disagree on theta.
!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @not_folded
// CHECK-COUNT-4: xfmr.rotary
// CHECK: xfmr.attention
// CHECK-NOT: rope_theta
func.func @not_folded(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %pos: index, %cache: !cache) -> (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>) {
  %qr = xfmr.rotary %q at %pos {head_dim = 8 : i64, theta = 1.0e4 : f64} : tensor<?x8xf32>
  %kr = xfmr.rotary %k at %pos {head_dim = 8 : i64, theta = 1.0e4 : f64} : tensor<?x8xf32>
  %a = xfmr.attention(%qr, %kr, %v), %cache at %pos {layer = 0 : i64, num_heads = 1 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !cache -> tensor<?x8xf32>
  %qr2 = xfmr.rotary %q at %pos {head_dim = 8 : i64, theta = 1.0e4 : f64} : tensor<?x8xf32>
  %kr2 = xfmr.rotary %k at %pos {head_dim = 8 : i64, theta = 2.0e4 : f64} : tensor<?x8xf32>
  %b = xfmr.attention(%qr2, %kr2, %v), %cache at %pos {layer = 0 : i64, num_heads = 1 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !cache -> tensor<?x8xf32>
  return %a, %b, %kr : tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>
}

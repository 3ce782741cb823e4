// RUN: xfmr-opt %s -split-input-file -xfmr-assign-schedules | FileCheck %s
// RUN: xfmr-opt %s -split-input-file -xfmr-assign-schedules="vector-width=8 tile-n=32" | FileCheck %s --check-prefix=AVX2

// CHECK-LABEL: func.func @linear
// AVX2-LABEL: func.func @linear
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<64x192xf32>) -> tensor<?x192xf32> {
  // f32 weights: 8-row x 48-column FMA tiles by default (48 divides 192).
  // CHECK: xfmr.linear {{.*}} {schedule = #xfmr.schedule<vector_width = 16, tile_m = 8, tile_n = 48, unroll = 1>}
  // AVX2: xfmr.linear {{.*}} {schedule = #xfmr.schedule<vector_width = 8, tile_m = 8, tile_n = 32, unroll = 1>}
  %y = xfmr.linear %x, %w : tensor<?x64xf32>, tensor<64x192xf32> -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Quantized weights keep 4-row x 64-column tiles by default.
// CHECK-LABEL: func.func @quantized
func.func @quantized(%x: tensor<?x64xf32>, %w: tensor<64x192xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>) -> tensor<?x192xf32> {
  // CHECK: xfmr.linear {{.*}} {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>}
  %y = xfmr.linear %x, %w : tensor<?x64xf32>, tensor<64x192xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>> -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Widths shrink until they divide the dimension they tile.
// CHECK-LABEL: func.func @odd_widths
func.func @odd_widths(%x: tensor<?x24xf32>, %w: tensor<24x40xf32>) -> tensor<?x40xf32> {
  // CHECK: xfmr.layer_norm {{.*}}schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 1>
  %g = xfmr.weight "g" : tensor<24xf32>
  %n = xfmr.layer_norm %x, %g, %g {epsilon = 1.0e-5 : f64} : tensor<?x24xf32>, tensor<24xf32>, tensor<24xf32> -> tensor<?x24xf32>
  // CHECK: xfmr.linear {{.*}} {schedule = #xfmr.schedule<vector_width = 8, tile_m = 8, tile_n = 40, unroll = 1>}
  %y = xfmr.linear %n, %w : tensor<?x24xf32>, tensor<24x40xf32> -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// A schedule already present (pinned, or written by the tuner) is kept.
// CHECK-LABEL: func.func @pinned
func.func @pinned(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  // CHECK: xfmr.gelu {{.*}} {schedule = #xfmr.schedule<vector_width = 4, tile_m = 1, tile_n = 4, unroll = 1>}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 4, tile_m = 1, tile_n = 4, unroll = 1>} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @attention_and_head
func.func @attention_and_head(%q: tensor<?x64xf32>, %c: !xfmr.kv_cache<layers = 1, heads = 8, context = 16, head_dim = 8, f32>, %p: index, %e: tensor<100x64xf32>) -> tensor<?x100xf32> {
  // CHECK: xfmr.attention({{.*}}schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 1>
  %a = xfmr.attention(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 8 : i64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>), !xfmr.kv_cache<layers = 1, heads = 8, context = 16, head_dim = 8, f32> -> tensor<?x64xf32>
  // CHECK: xfmr.lm_head {{.*}}schedule = #xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 64, unroll = 1>
  %l = xfmr.lm_head %a, %e : tensor<?x64xf32>, tensor<100x64xf32> -> tensor<?x100xf32>
  return %l : tensor<?x100xf32>
}

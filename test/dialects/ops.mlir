// RUN: xfmr-opt %s | FileCheck %s
// Round trip: print, parse the printed form again, print the same.
// RUN: xfmr-opt %s | xfmr-opt | FileCheck %s

!cache = !xfmr.kv_cache<layers = 2, heads = 2, context = 64, head_dim = 16, f32>

// CHECK-LABEL: func.func @all_ops
func.func @all_ops(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x128xf32> {
  // CHECK: xfmr.weight "wte.weight" : tensor<128x64xf32>
  %wte = xfmr.weight "wte.weight" : tensor<128x64xf32>
  %wpe = xfmr.weight "wpe.weight" : tensor<64x64xf32>
  // CHECK: xfmr.weight "attn.weight" columns from 64 : tensor<64x32xf32>
  %wk = xfmr.weight "attn.weight" columns from 64 : tensor<64x32xf32>
  %wq = xfmr.weight "attn.weight" : tensor<64x64xf32>
  %bk = xfmr.weight "attn.bias" columns from 64 : tensor<32xf32>
  // CHECK: xfmr.weight "lm_head.weight" transposed : tensor<64x128xf32>
  %wt = xfmr.weight "lm_head.weight" transposed : tensor<64x128xf32>
  // Stored rows [64, 96) of a [out, in] matrix, as a [64 (in), 32 (out)].
  // CHECK: xfmr.weight "qkv.weight" columns from 64 transposed : tensor<64x32xf32>
  %wkt = xfmr.weight "qkv.weight" columns from 64 transposed : tensor<64x32xf32>
  %g = xfmr.weight "ln.weight" : tensor<64xf32>
  %b = xfmr.weight "ln.bias" : tensor<64xf32>
  // CHECK: xfmr.embedding %{{.*}}, %{{.*}}, %{{.*}} at %{{.*}} : tensor<?xi32>, tensor<128x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %h = xfmr.embedding %tokens, %wte, %wpe at %pos : tensor<?xi32>, tensor<128x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.embedding %{{.*}}, %{{.*}} at %{{.*}} : tensor<?xi32>, tensor<128x64xf32> -> tensor<?x64xf32>
  %h2 = xfmr.embedding %tokens, %wte at %pos : tensor<?xi32>, tensor<128x64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.layer_norm {{.*}} {epsilon = 1.000000e-05 : f64}
  %x = xfmr.layer_norm %h, %g, %b {epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.rms_norm {{.*}} {epsilon = 9.9999999999999995E-7 : f64}
  %r = xfmr.rms_norm %h2, %g {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}}, %{{.*}} {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 2, prefetch = 1024>}
  %k = xfmr.linear %x, %wk, %bk {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 2, prefetch = 1024>} : tensor<?x64xf32>, tensor<64x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1, prefetch_to = l2>}
  %k2 = xfmr.linear %x, %wk {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1, prefetch_to = l2>} : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1>}
  %k1 = xfmr.linear %x, %wk {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1, prefetch_to = l1>} : tensor<?x64xf32>, tensor<64x32xf32> -> tensor<?x32xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %q = xfmr.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.rotary %{{.*}} at %{{.*}} {head_dim = 16 : i64, theta = 1.000000e+04 : f64}
  %qr = xfmr.rotary %q at %pos {head_dim = 16 : i64, theta = 10000.0 : f64} : tensor<?x64xf32>
  // CHECK: xfmr.attention({{.*}} {layer = 1 : i64, num_heads = 4 : i64} : {{.*}}, !xfmr.kv_cache<layers = 2, heads = 2, context = 64, head_dim = 16, f32> -> tensor<?x64xf32>
  %a = xfmr.attention(%qr, %k, %k), %cache at %pos {layer = 1 : i64, num_heads = 4 : i64} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>), !cache -> tensor<?x64xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<64xf32>) norm_bias(%{{.*}} : tensor<64xf32>) activation(gelu) residual(%{{.*}} : tensor<?x32xf32>) {norm_epsilon = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %fused = xfmr.linear %h, %wk, %bk norm(%g : tensor<64xf32>) norm_bias(%b : tensor<64xf32>) activation(gelu) residual(%k : tensor<?x32xf32>) {norm_epsilon = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<64xf32>) activation(silu) {norm_epsilon
  %rmsfused = xfmr.linear %h, %wq norm(%g : tensor<64xf32>) activation(silu) {norm_epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} activation(silu) times(%{{.*}} : tensor<?x64xf32>) residual(%{{.*}} : tensor<?x64xf32>) :
  %gated = xfmr.linear %h, %wq activation(silu) times(%q : tensor<?x64xf32>) residual(%h : tensor<?x64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // Gate and up side by side: act(x Wg) * (x Wu) from one weight.
  // CHECK: xfmr.linear %{{.*}}, %{{.*}} norm(%{{.*}} : tensor<64xf32>) activation(silu) gated {norm_epsilon
  %glu1 = xfmr.linear %h, %wq norm(%g : tensor<64xf32>) activation(silu) gated {norm_epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x32xf32>
  // A fused QKV projection's output feeds attention packed: [q | k | v].
  %wp = xfmr.weight "qkv.weight" : tensor<64x128xf32>
  %pk = xfmr.linear %x, %wp : tensor<?x64xf32>, tensor<64x128xf32> -> tensor<?x128xf32>
  // CHECK: xfmr.attention(%{{.*}}), %{{.*}} at %{{.*}} {layer = 0 : i64, num_heads = 4 : i64} : (tensor<?x128xf32>), !xfmr.kv_cache
  %ap = xfmr.attention(%pk), %cache at %pos {layer = 0 : i64, num_heads = 4 : i64} : (tensor<?x128xf32>), !cache -> tensor<?x64xf32>
  // Flash-decoding halves (xfmr-split-attention).
  // CHECK: xfmr.attention_partial(%{{.*}}), %{{.*}} at %{{.*}} {layer = 0 : i64, num_heads = 4 : i64, splits = 2 : i64} : (tensor<?x128xf32>), !xfmr.kv_cache<{{.*}}> -> tensor<?x144xf32>
  %part = xfmr.attention_partial(%pk), %cache at %pos {layer = 0 : i64, num_heads = 4 : i64, splits = 2 : i64} : (tensor<?x128xf32>), !cache -> tensor<?x144xf32>
  // CHECK: xfmr.attention_combine %{{.*}} {head_dim = 16 : i64, num_heads = 4 : i64, splits = 2 : i64} : tensor<?x144xf32> -> tensor<?x64xf32>
  %comb = xfmr.attention_combine %part {head_dim = 16 : i64, num_heads = 4 : i64, splits = 2 : i64} : tensor<?x144xf32> -> tensor<?x64xf32>
  // CHECK: xfmr.add
  %s = xfmr.add %a, %r : tensor<?x64xf32>
  // CHECK: xfmr.gelu
  %ge = xfmr.gelu %s : tensor<?x64xf32>
  // CHECK: xfmr.silu
  %si = xfmr.silu %s : tensor<?x64xf32>
  // CHECK: xfmr.glu %{{.*}}, %{{.*}}, silu
  %gl = xfmr.glu %ge, %si, silu : tensor<?x64xf32>
  // CHECK: xfmr.lm_head
  %l = xfmr.lm_head %gl, %wte : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
  return %l : tensor<?x128xf32>
}

// CHECK-LABEL: func.func @dispatch
func.func @dispatch(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  // CHECK: xfmr.dispatch @xk_gelu_0(%{{.*}}) {layer = 3 : i64} : (tensor<?x64xf32>) -> tensor<?x64xf32>
  %y = xfmr.dispatch @xk_gelu_0(%x) {layer = 3 : i64} : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func private @xk_gelu_0(%x: tensor<?x64xf32>) -> tensor<?x64xf32> attributes {xfmr.kernel, xfmr.work = "rows"} {
  %y = xfmr.gelu %x : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// llama.cpp's K-quant super-blocks (Q4_K, Q6_K) as weight types.
// CHECK-LABEL: func.func @k_quant_weights
func.func @k_quant_weights(%x: tensor<?x256xf32>) -> tensor<?x32xf32> {
  // CHECK: xfmr.weight "q4k" : tensor<256x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true, super = 256>>
  %a = xfmr.weight "q4k" : tensor<256x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true, super = 256>>
  // CHECK: xfmr.weight "q6k" : tensor<256x32xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>>
  %b = xfmr.weight "q6k" : tensor<256x32xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>>
  %y = xfmr.linear %x, %a : tensor<?x256xf32>, tensor<256x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true, super = 256>> -> tensor<?x32xf32>
  %z = xfmr.linear %x, %b : tensor<?x256xf32>, tensor<256x32xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>> -> tensor<?x32xf32>
  %s = xfmr.add %y, %z : tensor<?x32xf32>
  return %s : tensor<?x32xf32>
}

// Quantized and bf16 weights keep their logical shape.
// CHECK-LABEL: func.func @quantized_weights
func.func @quantized_weights(%x: tensor<?x64xf32>, %t: tensor<?xi32>, %p: index) -> tensor<?x128xf32> {
  // CHECK: xfmr.weight "w8" : tensor<64x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
  %w8 = xfmr.weight "w8" : tensor<64x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
  // CHECK: xfmr.weight "w4" : tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>
  %w4 = xfmr.weight "w4" : tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>
  // CHECK: xfmr.weight "wb" : tensor<64x32xbf16>
  %wb = xfmr.weight "wb" : tensor<64x32xbf16>
  // CHECK: xfmr.weight "wte" : tensor<128x64xi4, #xfmr.quant<bits = 4, group = 64, scale = f16>>
  %e = xfmr.weight "wte" : tensor<128x64xi4, #xfmr.quant<bits = 4, group = 64, scale = f16>>
  %a = xfmr.linear %x, %w8 : tensor<?x64xf32>, tensor<64x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>> -> tensor<?x32xf32>
  %b = xfmr.linear %x, %w4 : tensor<?x64xf32>, tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>> -> tensor<?x32xf32>
  %c = xfmr.linear %x, %wb : tensor<?x64xf32>, tensor<64x32xbf16> -> tensor<?x32xf32>
  %h = xfmr.embedding %t, %e at %p : tensor<?xi32>, tensor<128x64xi4, #xfmr.quant<bits = 4, group = 64, scale = f16>> -> tensor<?x64xf32>
  // CHECK: xfmr.lm_head {{.*}} : tensor<?x64xf32>, tensor<128x64xi4, #xfmr.quant<bits = 4, group = 64, scale = f16>> -> tensor<?x128xf32>
  %l = xfmr.lm_head %h, %e : tensor<?x64xf32>, tensor<128x64xi4, #xfmr.quant<bits = 4, group = 64, scale = f16>> -> tensor<?x128xf32>
  return %l : tensor<?x128xf32>
}

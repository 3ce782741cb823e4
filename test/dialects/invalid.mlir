// RUN: xfmr-opt %s -split-input-file -verify-diagnostics

func.func @weight_dynamic() {
  // expected-error @+1 {{weight tensors must have a static shape}}
  %w = xfmr.weight "w" : tensor<?x4xf32>
  return
}

// -----

func.func @weight_empty_name() {
  // expected-error @+1 {{weight name must not be empty}}
  %w = xfmr.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_negative_offset() {
  // expected-error @+1 {{column offset must be non-negative}}
  %w = xfmr.weight "w" columns from -1 : tensor<4xf32>
  return
}

// -----

func.func @weight_transposed_1d() {
  // expected-error @+1 {{only 2-D weights can be transposed}}
  %w = xfmr.weight "w" transposed : tensor<4xf32>
  return
}

// -----

// Columns of a transposed view are stored rows: a vector has none.
func.func @weight_transposed_columns_1d() {
  // expected-error @+1 {{only 2-D weights can be transposed}}
  %w = xfmr.weight "w" columns from 4 transposed : tensor<4xf32>
  return
}

// -----

func.func @weight_transposed_negative_offset() {
  // expected-error @+1 {{column offset must be non-negative}}
  %w = xfmr.weight "w" columns from -4 transposed : tensor<4x4xf32>
  return
}

// -----

func.func @embedding_width(%t: tensor<?xi32>, %p: index, %e: tensor<10x8xf32>) {
  // expected-error @+1 {{result width 4 differs from the embedding width 8}}
  %h = xfmr.embedding %t, %e at %p : tensor<?xi32>, tensor<10x8xf32> -> tensor<?x4xf32>
  return
}

// -----

func.func @embedding_positions(%t: tensor<?xi32>, %p: index, %e: tensor<10x8xf32>, %pe: tensor<16x4xf32>) {
  // expected-error @+1 {{positional embedding width 4 differs from the token embedding width 8}}
  %h = xfmr.embedding %t, %e, %pe at %p : tensor<?xi32>, tensor<10x8xf32>, tensor<16x4xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @embedding_elem(%t: tensor<?xi32>, %p: index, %e: tensor<10x8xf32>) {
  // expected-error @+1 {{result element type differs from the table's}}
  %h = xfmr.embedding %t, %e at %p : tensor<?xi32>, tensor<10x8xf32> -> tensor<?x8xf16>
  return
}

// -----

func.func @embedding_rows(%t: tensor<3xi32>, %p: index, %e: tensor<10x8xf32>) {
  // expected-error @+1 {{result has 4 rows for 3 tokens}}
  %h = xfmr.embedding %t, %e at %p : tensor<3xi32>, tensor<10x8xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @activation_dynamic_features(%x: tensor<?x?xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{input must have a static feature dimension}}
  %y = xfmr.rms_norm %x, %g {epsilon = 1.0e-5 : f64} : tensor<?x?xf32>, tensor<8xf32> -> tensor<?x?xf32>
  return
}

// -----

func.func @norm_param(%x: tensor<?x8xf32>, %g: tensor<4xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{parameter of size 4 does not match the feature dimension 8}}
  %y = xfmr.layer_norm %x, %g, %b {epsilon = 1.0e-5 : f64} : tensor<?x8xf32>, tensor<4xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @norm_result(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{result type must equal the input type}}
  %y = xfmr.rms_norm %x, %g {epsilon = 1.0e-5 : f64} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf16>
  return
}

// -----

func.func @norm_epsilon(%x: tensor<?x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = xfmr.rms_norm %x, %g {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_rows(%x: tensor<?x8xf32>, %w: tensor<4x16xf32>) {
  // expected-error @+1 {{weight has 4 rows but the input has 8 features}}
  %y = xfmr.linear %x, %w : tensor<?x8xf32>, tensor<4x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_cols(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{weight has 16 columns but the result has 12 features}}
  %y = xfmr.linear %x, %w : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x12xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias of size 8 does not match the 16 weight columns}}
  %y = xfmr.linear %x, %w, %b : tensor<?x8xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_gated_cols(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{weight has 16 columns but the result has 16 features (gated: needs twice as many columns)}}
  %y = xfmr.linear %x, %w activation(silu) gated : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_gated_no_activation(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>) {
  // expected-error @+1 {{gated needs an activation (applied to the gate half)}}
  %y = xfmr.linear %x, %w gated : tensor<?x8xf32>, tensor<8x32xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_gated_bias(%x: tensor<?x8xf32>, %w: tensor<8x32xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{bias of size 16 does not match the 32 weight columns}}
  %y = xfmr.linear %x, %w, %b activation(silu) gated : tensor<?x8xf32>, tensor<8x32xf32>, tensor<16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_token_rows(%x: tensor<3x8xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{token dimensions differ: 3 vs 4}}
  %y = xfmr.linear %x, %w : tensor<3x8xf32>, tensor<8x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @linear_norm_bias_alone(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{norm_bias needs norm}}
  %y = xfmr.linear %x, %w norm_bias(%g : tensor<8xf32>) : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_norm_epsilon(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{a fused norm needs norm_epsilon}}
  %y = xfmr.linear %x, %w norm(%g : tensor<8xf32>) : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_epsilon_alone(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{norm_epsilon without a fused norm}}
  %y = xfmr.linear %x, %w {norm_epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_norm_size(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{norm parameters of size 16 do not match the 8 input features}}
  %y = xfmr.linear %x, %w norm(%g : tensor<16xf32>) {norm_epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_times(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %u: tensor<?x8xf32>) {
  // expected-error @+1 {{times operand type must equal the result type}}
  %y = xfmr.linear %x, %w times(%u : tensor<?x8xf32>) : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @linear_residual(%x: tensor<?x8xf32>, %w: tensor<8x16xf32>, %r: tensor<?x8xf32>) {
  // expected-error @+1 {{residual type must equal the result type}}
  %y = xfmr.linear %x, %w residual(%r : tensor<?x8xf32>) : tensor<?x8xf32>, tensor<8x16xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_features(%x: tensor<?x8xf32>, %w: tensor<32x4xf32>) {
  // expected-error @+1 {{weight rows have 4 features but the input has 8}}
  %y = xfmr.lm_head %x, %w : tensor<?x8xf32>, tensor<32x4xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @lm_head_vocab(%x: tensor<?x8xf32>, %w: tensor<32x8xf32>) {
  // expected-error @+1 {{weight has 32 vocabulary rows but the result has 16 logits}}
  %y = xfmr.lm_head %x, %w : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @rotary_odd(%x: tensor<?x12xf32>, %p: index) {
  // expected-error @+1 {{head_dim must be positive and even, got 3}}
  %y = xfmr.rotary %x at %p {head_dim = 3 : i64, theta = 10000.0 : f64} : tensor<?x12xf32>
  return
}

// -----

func.func @rotary_multiple(%x: tensor<?x12xf32>, %p: index) {
  // expected-error @+1 {{feature dimension 12 is not a multiple of head_dim 8}}
  %y = xfmr.rotary %x at %p {head_dim = 8 : i64, theta = 10000.0 : f64} : tensor<?x12xf32>
  return
}

// -----

func.func @rotary_theta(%x: tensor<?x8xf32>, %p: index) {
  // expected-error @+1 {{theta must be positive}}
  %y = xfmr.rotary %x at %p {head_dim = 8 : i64, theta = 0.0 : f64} : tensor<?x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_heads(%q: tensor<?x12xf32>, %k: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{num_heads (3) must be a positive multiple of the cache's 2 kv heads}}
  %y = xfmr.attention(%q, %k, %k), %c at %p {layer = 0 : i64, num_heads = 3 : i64} : (tensor<?x12xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x12xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_layer(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{layer 2 is outside the cache's 2 layers}}
  %y = xfmr.attention(%q, %q, %q), %c at %p {layer = 2 : i64, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_two_inputs(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{takes q, k, v or one packed [q | k | v], got 2 inputs}}
  %y = xfmr.attention(%q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_packed_width(%qkv: tensor<?x20xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{packed input width 20 is not (2 + 2 x 2) heads x 4}}
  %y = xfmr.attention(%qkv), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x20xf32>), !c -> tensor<?x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_packed_result(%qkv: tensor<?x24xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{result width 24 is not 2 heads x 4}}
  %y = xfmr.attention(%qkv), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x24xf32>), !c -> tensor<?x24xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_query(%q: tensor<?x12xf32>, %k: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{query width 12 is not 4 heads x 4}}
  %y = xfmr.attention(%q, %k, %k), %c at %p {layer = 0 : i64, num_heads = 4 : i64} : (tensor<?x12xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x12xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_kv(%q: tensor<?x16xf32>, %k: tensor<?x16xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{key/value width 16 is not 2 kv heads x 4}}
  %y = xfmr.attention(%q, %k, %k), %c at %p {layer = 0 : i64, num_heads = 4 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !c -> tensor<?x16xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_result(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{result type must equal the query type}}
  %y = xfmr.attention(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<4x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f16>
func.func @attention_elem(%q: tensor<?x8xf32>, %k: tensor<?x8xf16>, %c: !c, %p: index) {
  // expected-error @+1 {{keys and values must have the query's element type}}
  %y = xfmr.attention(%q, %k, %k), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf16>, tensor<?x8xf16>), !c -> tensor<?x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_rows(%q: tensor<3x8xf32>, %k: tensor<2x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{token dimensions differ: 3 vs 2}}
  %y = xfmr.attention(%q, %k, %k), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<3x8xf32>, tensor<2x8xf32>, tensor<2x8xf32>), !c -> tensor<3x8xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_scale(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{scale must be positive}}
  %y = xfmr.attention(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64, scale = -1.0 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x8xf32>
  return
}

// -----

// expected-error @+1 {{kv_cache dimensions must be positive}}
func.func @cache_dims(%c: !xfmr.kv_cache<layers = 0, heads = 2, context = 8, head_dim = 4, f32>) {
  return
}

// -----

// expected-error @+1 {{kv_cache element type must be f32, f16 or i8, got 'i32'}}
func.func @cache_elem(%c: !xfmr.kv_cache<layers = 1, heads = 2, context = 8, head_dim = 4, i32>) {
  return
}

// -----

func.func @schedule_width(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{vector_width must be a power of two in [1, 64], got 3}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 3, tile_m = 1, tile_n = 3, unroll = 1>} : tensor<?x8xf32>
  return
}

// -----

func.func @schedule_tile_m(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{tile_m must be in [1, 16], got 0}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 8, tile_m = 0, tile_n = 8, unroll = 1>} : tensor<?x8xf32>
  return
}

// -----

func.func @schedule_tile_n(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{tile_n (12) must be a positive multiple of vector_width (8)}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 12, unroll = 1>} : tensor<?x8xf32>
  return
}

// -----

func.func @schedule_prefetch(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{prefetch must be -1 (default), 0 (off) or a distance up to 1048576, got -2}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 1, prefetch = -2>} : tensor<?x8xf32>
  return
}

// -----

func.func @schedule_prefetch_to(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expected l1 or l2}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 1, prefetch_to = l3>} : tensor<?x8xf32>
  return
}

// -----

func.func @schedule_unroll(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{unroll must be in [1, 16], got 0}}
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 0>} : tensor<?x8xf32>
  return
}

// -----

func.func @dispatch_missing(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{kernel @nowhere not found}}
  %y = xfmr.dispatch @nowhere(%x) : (tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @embedding_dynamic_width(%t: tensor<?xi32>, %p: index, %e: tensor<10x8xf32>) {
  // expected-error @+1 {{result must have a static feature dimension}}
  %h = xfmr.embedding %t, %e at %p : tensor<?xi32>, tensor<10x8xf32> -> tensor<?x?xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 1, heads = 2, context = 8, head_dim = 4, f32>
func.func @attention_dynamic_width(%q: tensor<?x?xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{operand must have a static feature dimension}}
  %y = xfmr.attention(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>), !c -> tensor<?x?xf32>
  return
}

// -----

func.func @glu_types(%g: tensor<?x8xf32>, %u: tensor<?x4xf32>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %y = "xfmr.glu"(%g, %u) {activation = 0 : i32} : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

// expected-error @+1 {{quant scales must be f32 or f16, got 'i32'}}
func.func @quant_scale(%w: tensor<8x8xi8, #xfmr.quant<bits = 8, group = 0, scale = i32>>) {
  return
}

// -----

// expected-error @+1 {{8-bit weights need group 0 (per output channel), 32, 64 or 128, got group = 48}}
func.func @quant_int8_group(%w: tensor<96x8xi8, #xfmr.quant<bits = 8, group = 48, scale = f32>>) {
  return
}

// -----

// expected-error @+1 {{8-bit weights are symmetric: no zero_point}}
func.func @quant_int8_zero(%w: tensor<64x8xi8, #xfmr.quant<bits = 8, group = 0, scale = f32, zero_point = true>>) {
  return
}

// -----

// expected-error @+1 {{4-bit weights need group 32, 64 or 128, got 16}}
func.func @quant_int4_group(%w: tensor<64x8xi4, #xfmr.quant<bits = 4, group = 16, scale = f16>>) {
  return
}

// -----

// expected-error @+1 {{super-blocks are llama.cpp's K-quants: bits = 4, group = 32, zero_point (Q4_K) or bits = 6, group = 16 (Q6_K), with scale = f16 and super = 256; got bits = 4, group = 32, super = 256}}
func.func @quant_super_without_zero_point(%w: tensor<256x8xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, super = 256>>) {
  return
}

// -----

// expected-error @+1 {{super-blocks are llama.cpp's K-quants}}
func.func @quant_int6_without_super(%w: tensor<256x8xi6, #xfmr.quant<bits = 6, group = 16, scale = f16>>) {
  return
}

// -----

// expected-error @+1 {{unknown quant parameter 'supper'}}
func.func @quant_unknown_parameter(%w: tensor<256x8xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, supper = 256>>) {
  return
}

// -----

func.func @quant_super_not_dividing(%x: tensor<?x128xf32>, %w: tensor<128x8xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>>) {
  // expected-error @+1 {{quant super-block 256 does not divide the reduction dimension 128}}
  %y = xfmr.linear %x, %w : tensor<?x128xf32>, tensor<128x8xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>> -> tensor<?x8xf32>
  return
}

// -----

// expected-error @+1 {{quant bits must be 8, 4 or 6 (with super-blocks), got 3}}
func.func @quant_bits(%w: tensor<64x8xi4, #xfmr.quant<bits = 3, group = 32, scale = f16>>) {
  return
}

// -----

func.func @quant_int_without_encoding(%x: tensor<?x64xf32>, %w: tensor<64x8xi8>) {
  // expected-error @+1 {{weight element type 'i8' needs an #xfmr.quant encoding}}
  %y = xfmr.linear %x, %w : tensor<?x64xf32>, tensor<64x8xi8> -> tensor<?x8xf32>
  return
}

// -----

func.func @quant_storage(%x: tensor<?x64xf32>, %w: tensor<64x8xi4, #xfmr.quant<bits = 8, group = 0, scale = f32>>) {
  // expected-error @+1 {{a 8-bit quantized weight must store i8, got 'i4'}}
  %y = xfmr.linear %x, %w : tensor<?x64xf32>, tensor<64x8xi4, #xfmr.quant<bits = 8, group = 0, scale = f32>> -> tensor<?x8xf32>
  return
}

// -----

func.func @quant_group_divides(%x: tensor<?x48xf32>, %w: tensor<48x8xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>>) {
  // expected-error @+1 {{quant group 32 does not divide the reduction dimension 48}}
  %y = xfmr.linear %x, %w : tensor<?x48xf32>, tensor<48x8xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>> -> tensor<?x8xf32>
  return
}

// -----

func.func @quant_lm_head_group(%x: tensor<?x48xf32>, %w: tensor<64x48xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>>) {
  // expected-error @+1 {{quant group 32 does not divide the reduction dimension 48}}
  %y = xfmr.lm_head %x, %w : tensor<?x48xf32>, tensor<64x48xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>> -> tensor<?x64xf32>
  return
}

// -----

func.func @weight_foreign_encoding() {
  // expected-error @+1 {{weight encoding "sparse" is not an #xfmr.quant}}
  %w = xfmr.weight "w" : tensor<4x4xf32, "sparse">
  return
}

// -----

func.func @weight_quant_1d() {
  // expected-error @+1 {{quantized weights must be 2-D}}
  %w = xfmr.weight "w" : tensor<64xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @partial_splits(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{splits must be at least 2, got 1}}
  %y = xfmr.attention_partial(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64, splits = 1 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x12xf32>
  return
}

// -----

!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @partial_width(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{result width 12 is not 2 heads x 2 splits x (head_dim 4 + 2)}}
  %y = xfmr.attention_partial(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64, splits = 2 : i64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x12xf32>
  return
}

// -----

func.func @combine_width(%x: tensor<?x20xf32>) {
  // expected-error @+1 {{partial width 20 is not 2 heads x 2 splits x (head_dim 4 + 2)}}
  %y = xfmr.attention_combine %x {head_dim = 4 : i64, num_heads = 2 : i64, splits = 2 : i64} : tensor<?x20xf32> -> tensor<?x8xf32>
  return
}

// -----

func.func @combine_result(%x: tensor<?x24xf32>) {
  // expected-error @+1 {{result width 12 is not 2 heads x 4}}
  %y = xfmr.attention_combine %x {head_dim = 4 : i64, num_heads = 2 : i64, splits = 2 : i64} : tensor<?x24xf32> -> tensor<?x12xf32>
  return
}

// -----

// The partial shares xfmr.attention's operand checks.
!c = !xfmr.kv_cache<layers = 2, heads = 2, context = 8, head_dim = 4, f32>
func.func @partial_scale(%q: tensor<?x8xf32>, %c: !c, %p: index) {
  // expected-error @+1 {{scale must be positive}}
  %y = xfmr.attention_partial(%q, %q, %q), %c at %p {layer = 0 : i64, num_heads = 2 : i64, splits = 2 : i64, scale = -1.0 : f64} : (tensor<?x8xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !c -> tensor<?x24xf32>
  return
}

// -----

func.func @concat_width() {
  %a = xfmr.weight "a" : tensor<4x8xf32>
  %b = xfmr.weight "b" : tensor<4x4xf32>
  // expected-error @+1 {{parts are 12 wide together, the result 16}}
  %c = xfmr.concat %a, %b : tensor<4x8xf32>, tensor<4x4xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @concat_rows() {
  %a = xfmr.weight "a" : tensor<4x8xf32>
  %b = xfmr.weight "b" : tensor<2x4xf32>
  // expected-error @+1 {{part 'tensor<2x4xf32>' has 2 rows, the result 4}}
  %c = xfmr.concat %a, %b : tensor<4x8xf32>, tensor<2x4xf32> -> tensor<4x12xf32>
  return
}

// -----

func.func @concat_types() {
  %a = xfmr.weight "a" : tensor<4x8xf32>
  %b = xfmr.weight "b" : tensor<4x4xbf16>
  // expected-error @+1 {{does not have the result's element type and encoding}}
  %c = xfmr.concat %a, %b : tensor<4x8xf32>, tensor<4x4xbf16> -> tensor<4x12xf32>
  return
}

// -----

func.func @concat_of_non_weights(%x: tensor<4x8xf32>) {
  %a = xfmr.weight "a" : tensor<4x8xf32>
  // expected-error @+1 {{parts must be xfmr.weight views}}
  %c = xfmr.concat %a, %x : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<4x16xf32>
  return
}

// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-qkv | FileCheck %s

// GPT-2: Q, K and V are column views 0, 16, 32 of one c_attn tensor; they
// become one 48-wide linear whose output feeds attention packed.
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @gpt2_block
// CHECK: %[[W:.+]] = xfmr.weight "c_attn.weight" : tensor<16x48xf32>
// CHECK: %[[B:.+]] = xfmr.weight "c_attn.bias" : tensor<48xf32>
// CHECK: %[[QKV:.+]] = xfmr.linear %arg0, %[[W]], %[[B]] : tensor<?x16xf32>, tensor<16x48xf32>, tensor<48xf32> -> tensor<?x48xf32>
// CHECK-NOT: xfmr.linear
// CHECK: xfmr.attention(%[[QKV]]), %arg2 at %arg1 {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x48xf32>)
func.func @gpt2_block(%x: tensor<?x16xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %wq = xfmr.weight "c_attn.weight" columns from 0 : tensor<16x16xf32>
  %bq = xfmr.weight "c_attn.bias" columns from 0 : tensor<16xf32>
  %q = xfmr.linear %x, %wq, %bq : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %wk = xfmr.weight "c_attn.weight" columns from 16 : tensor<16x16xf32>
  %bk = xfmr.weight "c_attn.bias" columns from 16 : tensor<16xf32>
  %k = xfmr.linear %x, %wk, %bk : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %wv = xfmr.weight "c_attn.weight" columns from 32 : tensor<16x16xf32>
  %bv = xfmr.weight "c_attn.bias" columns from 32 : tensor<16xf32>
  %v = xfmr.linear %x, %wv, %bv : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// Quantized views keep their encoding; grouped-query widths (8 + 4 + 4)
// add up.
!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 16, head_dim = 4, f32>
// CHECK-LABEL: func.func @quantized_gqa
// CHECK: xfmr.weight "qkv" columns from 4 : tensor<32x16xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
// CHECK: xfmr.linear {{.*}} -> tensor<?x16xf32>
// CHECK: xfmr.attention(%{{.*}}), {{.*}} : (tensor<?x16xf32>)
func.func @quantized_gqa(%x: tensor<?x32xf32>, %pos: index, %cache: !cache) -> tensor<?x8xf32> {
  %wq = xfmr.weight "qkv" columns from 4 : tensor<32x8xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
  %q = xfmr.linear %x, %wq : tensor<?x32xf32>, tensor<32x8xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>> -> tensor<?x8xf32>
  %wk = xfmr.weight "qkv" columns from 12 : tensor<32x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
  %k = xfmr.linear %x, %wk : tensor<?x32xf32>, tensor<32x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>> -> tensor<?x4xf32>
  %wv = xfmr.weight "qkv" columns from 16 : tensor<32x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
  %v = xfmr.linear %x, %wv : tensor<?x32xf32>, tensor<32x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>> -> tensor<?x4xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x8xf32>, tensor<?x4xf32>, tensor<?x4xf32>), !cache -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// Separate tensors (Llama's q_proj/k_proj/v_proj) and views of one tensor
// that are not side by side become one linear over an xfmr.concat of the
// views; a projection used elsewhere is left alone.
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @not_fused
// CHECK: xfmr.concat {{.*}} -> tensor<16x48xf32>
// CHECK: xfmr.linear {{.*}} -> tensor<?x48xf32>
// CHECK: xfmr.attention(%{{[0-9]+}}), %arg2
// CHECK: xfmr.concat {{.*}} -> tensor<16x48xf32>
// CHECK: xfmr.linear {{.*}} -> tensor<?x48xf32>
// CHECK: xfmr.attention(%{{[0-9]+}}), %arg2
// CHECK-COUNT-3: xfmr.linear
// CHECK: xfmr.attention(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}})
func.func @not_fused(%x: tensor<?x16xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %wq = xfmr.weight "q_proj" : tensor<16x16xf32>
  %wk = xfmr.weight "k_proj" : tensor<16x16xf32>
  %wv = xfmr.weight "v_proj" : tensor<16x16xf32>
  %q = xfmr.linear %x, %wq : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %k = xfmr.linear %x, %wk : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %v = xfmr.linear %x, %wv : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %w0 = xfmr.weight "c_attn" columns from 0 : tensor<16x16xf32>
  %w2 = xfmr.weight "c_attn" columns from 32 : tensor<16x16xf32>
  %w1 = xfmr.weight "c_attn" columns from 16 : tensor<16x16xf32>
  %q2 = xfmr.linear %a, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %k2 = xfmr.linear %a, %w2 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %v2 = xfmr.linear %a, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %b = xfmr.attention(%q2, %k2, %v2), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %q3 = xfmr.linear %b, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %k3 = xfmr.linear %b, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %v3 = xfmr.linear %b, %w2 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %c = xfmr.attention(%q3, %k3, %v3), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %s = xfmr.add %c, %q3 : tensor<?x16xf32>
  return %s : tensor<?x16xf32>
}

// -----

// Llama: separate q_proj, k_proj, v_proj tensors (transposed views, with
// Qwen2's biases): one linear over their xfmr.concat.
!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @llama_separate_tensors
// CHECK-DAG: %[[Q:.+]] = xfmr.weight "q_proj.weight" transposed : tensor<16x16xf32>
// CHECK-DAG: %[[K:.+]] = xfmr.weight "k_proj.weight" transposed : tensor<16x8xf32>
// CHECK-DAG: %[[V:.+]] = xfmr.weight "v_proj.weight" transposed : tensor<16x8xf32>
// CHECK: %[[W:.+]] = xfmr.concat %[[Q]], %[[K]], %[[V]] : tensor<16x16xf32>, tensor<16x8xf32>, tensor<16x8xf32> -> tensor<16x32xf32>
// CHECK: %[[B:.+]] = xfmr.concat {{.*}} -> tensor<32xf32>
// CHECK: %[[QKV:.+]] = xfmr.linear %arg0, %[[W]], %[[B]] : tensor<?x16xf32>, tensor<16x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
// CHECK: xfmr.attention(%[[QKV]])
func.func @llama_separate_tensors(%x: tensor<?x16xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %wq = xfmr.weight "q_proj.weight" transposed : tensor<16x16xf32>
  %bq = xfmr.weight "q_proj.bias" : tensor<16xf32>
  %q = xfmr.linear %x, %wq, %bq : tensor<?x16xf32>, tensor<16x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %wk = xfmr.weight "k_proj.weight" transposed : tensor<16x8xf32>
  %bk = xfmr.weight "k_proj.bias" : tensor<8xf32>
  %k = xfmr.linear %x, %wk, %bk : tensor<?x16xf32>, tensor<16x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  %wv = xfmr.weight "v_proj.weight" transposed : tensor<16x8xf32>
  %bv = xfmr.weight "v_proj.bias" : tensor<8xf32>
  %v = xfmr.linear %x, %wv, %bv : tensor<?x16xf32>, tensor<16x8xf32>, tensor<8xf32> -> tensor<?x8xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// GPT-2 from GGUF: c_attn stored [48, 16] ([out, in]), Q, K and V its rows
// 0, 16, 32 read transposed (Q8_0 blocks along the stored rows): one
// transposed view of the whole tensor, its encoding kept.
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @gpt2_gguf_block
// CHECK: %[[W:.+]] = xfmr.weight "c_attn.weight" transposed : tensor<32x48xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
// CHECK: %[[B:.+]] = xfmr.weight "c_attn.bias" : tensor<48xf32>
// CHECK: %[[QKV:.+]] = xfmr.linear %arg0, %[[W]], %[[B]]
// CHECK-NOT: xfmr.linear
// CHECK: xfmr.attention(%[[QKV]])
func.func @gpt2_gguf_block(%x: tensor<?x32xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %wq = xfmr.weight "c_attn.weight" columns from 0 transposed : tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
  %bq = xfmr.weight "c_attn.bias" columns from 0 : tensor<16xf32>
  %q = xfmr.linear %x, %wq, %bq : tensor<?x32xf32>, tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>, tensor<16xf32> -> tensor<?x16xf32>
  %wk = xfmr.weight "c_attn.weight" columns from 16 transposed : tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
  %bk = xfmr.weight "c_attn.bias" columns from 16 : tensor<16xf32>
  %k = xfmr.linear %x, %wk, %bk : tensor<?x32xf32>, tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>, tensor<16xf32> -> tensor<?x16xf32>
  %wv = xfmr.weight "c_attn.weight" columns from 32 transposed : tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
  %bv = xfmr.weight "c_attn.bias" columns from 32 : tensor<16xf32>
  %v = xfmr.linear %x, %wv, %bv : tensor<?x32xf32>, tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>, tensor<16xf32> -> tensor<?x16xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// Views of one tensor, some transposed and some not, are not its columns
// side by side: an xfmr.concat.
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
// CHECK-LABEL: func.func @mixed_transposed
// CHECK: xfmr.concat {{.*}} -> tensor<16x48xf32>
func.func @mixed_transposed(%x: tensor<?x16xf32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %wq = xfmr.weight "c_attn" columns from 0 transposed : tensor<16x16xf32>
  %q = xfmr.linear %x, %wq : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %wk = xfmr.weight "c_attn" columns from 16 : tensor<16x16xf32>
  %k = xfmr.linear %x, %wk : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %wv = xfmr.weight "c_attn" columns from 32 transposed : tensor<16x16xf32>
  %v = xfmr.linear %x, %wv : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

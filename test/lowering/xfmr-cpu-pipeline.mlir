// RUN: xfmr-opt %s -xfmr-cpu-pipeline="max-tokens=16" | FileCheck %s
// RUN: xfmr-opt %s -xfmr-cpu-pipeline="max-tokens=16 fuse=false" | FileCheck %s --check-prefix=UNFUSED

// The whole CPU pipeline on a one-layer model: only LLVM dialect remains,
// one entry point per distinct kernel. Fused, the layer norm is the
// linear's prologue (the add and gelu follow attention, not a linear).
// CHECK-NOT: xfmr.weight
// CHECK-NOT: memref.
// CHECK-NOT: vector.load
// CHECK-NOT: scf.
// CHECK-NOT: llvm.func @xk_layer_norm
// CHECK-DAG: llvm.func @xk_embedding_{{[0-9]+}}_entry(
// CHECK-DAG: llvm.func @xk_linear_{{[0-9]+}}_entry(
// CHECK-DAG: llvm.func @xk_attention_{{[0-9]+}}_entry(
// CHECK-DAG: llvm.func @xk_add_{{[0-9]+}}_entry(
// CHECK-DAG: llvm.func @xk_gelu_{{[0-9]+}}_entry(
// CHECK-DAG: llvm.func @xk_lm_head_{{[0-9]+}}_entry(
// UNFUSED-DAG: llvm.func @xk_layer_norm_{{[0-9]+}}_entry(
// UNFUSED-DAG: llvm.func @xk_linear_{{[0-9]+}}_entry(
!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 16, head_dim = 8, f32>
module {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x32xf32> {
    %wte = xfmr.weight "wte.weight" : tensor<32x16xf32>
    %wpe = xfmr.weight "wpe.weight" : tensor<16x16xf32>
    %h = xfmr.embedding %tokens, %wte, %wpe at %pos : tensor<?xi32>, tensor<32x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %g = xfmr.weight "ln.weight" : tensor<16xf32>
    %x = xfmr.layer_norm %h, %g, %g {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
    %w = xfmr.weight "attn.weight" columns from 0 : tensor<16x16xf32>
    %q = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
    %a = xfmr.attention(%q, %q, %q), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
    %r = xfmr.add %a, %h : tensor<?x16xf32>
    %gl = xfmr.gelu %r : tensor<?x16xf32>
    %l = xfmr.lm_head %gl, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
    return %l : tensor<?x32xf32>
  }
}

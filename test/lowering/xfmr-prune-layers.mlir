// RUN: xfmr-opt %s -xfmr-prune-layers="drop=1" | FileCheck %s
// RUN: xfmr-opt %s -xfmr-prune-layers="drop-last=2" | FileCheck %s --check-prefix=LAST
// RUN: not xfmr-opt %s -xfmr-prune-layers="drop=0,1,2" 2>&1 | FileCheck %s --check-prefix=ALL
// RUN: not xfmr-opt %s -xfmr-prune-layers="drop=3" 2>&1 | FileCheck %s --check-prefix=RANGE

// Three pre-norm blocks: each reads the residual stream through a norm and
// a projection, and adds its output back.
!cache = !xfmr.kv_cache<layers = 3, heads = 2, context = 16, head_dim = 8, f32>

// CHECK-LABEL: func.func @forward
// CHECK-SAME: !xfmr.kv_cache<layers = 2, heads = 2, context = 16, head_dim = 8, f32>
// CHECK: xfmr.weight "b0.w"
// CHECK: xfmr.attention({{.*}} {layer = 0 : i64
// CHECK-NOT: "b1.w"
// CHECK: xfmr.weight "b2.w"
// CHECK: xfmr.attention({{.*}} {layer = 1 : i64
// CHECK-NOT: xfmr.attention
// CHECK: xfmr.lm_head

// LAST-LABEL: func.func @forward
// LAST-SAME: !xfmr.kv_cache<layers = 1,
// The final norm now reads block 0's output.
// LAST: %[[A:.+]] = xfmr.attention({{.*}} {layer = 0 : i64
// LAST-NOT: xfmr.attention
// LAST-NOT: "b1.w"
// LAST-NOT: "b2.w"
// LAST: %[[H1:.+]] = xfmr.add %[[A]], %{{.+}}
// LAST: xfmr.weight "final"
// LAST-NEXT: xfmr.layer_norm %[[H1]],
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x32xf32> {
  %wte = xfmr.weight "wte" : tensor<32x16xf32>
  %g = xfmr.weight "g" : tensor<16xf32>
  %h0 = xfmr.embedding %tokens, %wte at %pos : tensor<?xi32>, tensor<32x16xf32> -> tensor<?x16xf32>

  %x0 = xfmr.layer_norm %h0, %g, %g {epsilon = 1.0e-5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w0 = xfmr.weight "b0.w" : tensor<16x16xf32>
  %q0 = xfmr.linear %x0, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a0 = xfmr.attention(%q0, %q0, %q0), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %h1 = xfmr.add %a0, %h0 : tensor<?x16xf32>

  %x1 = xfmr.layer_norm %h1, %g, %g {epsilon = 1.0e-5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w1 = xfmr.weight "b1.w" : tensor<16x16xf32>
  %q1 = xfmr.linear %x1, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a1 = xfmr.attention(%q1, %q1, %q1), %cache at %pos {layer = 1 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %h2 = xfmr.add %a1, %h1 : tensor<?x16xf32>
  %m1 = xfmr.gelu %h2 : tensor<?x16xf32>
  %h3 = xfmr.add %m1, %h2 : tensor<?x16xf32>

  %x2 = xfmr.layer_norm %h3, %g, %g {epsilon = 1.0e-5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w2 = xfmr.weight "b2.w" : tensor<16x16xf32>
  %q2 = xfmr.linear %x2, %w2 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a2 = xfmr.attention(%q2, %q2, %q2), %cache at %pos {layer = 2 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %h4 = xfmr.add %a2, %h3 : tensor<?x16xf32>

  %gf = xfmr.weight "final" : tensor<16xf32>
  %xf = xfmr.layer_norm %h4, %gf, %gf {epsilon = 1.0e-5 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %l = xfmr.lm_head %xf, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l : tensor<?x32xf32>
}
// ALL: error: dropping every block leaves no model
// RANGE: error: cannot drop block 3: the model has 3 blocks

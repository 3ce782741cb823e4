// RUN: xfmr-opt %s -xfmr-assign-schedules -xfmr-outline-kernels | FileCheck %s

!cache = !xfmr.kv_cache<layers = 2, heads = 2, context = 16, head_dim = 8, f32>

// Two layers of identical shapes share their kernels: the three Q/K/V
// projections and both layers' attention dispatch the same functions, and
// the layer index stays on the dispatch.
// CHECK-LABEL: func.func @forward
// CHECK: %[[E:.+]] = xfmr.dispatch @[[EMB:xk_embedding_[0-9]+]](
// CHECK: %[[Q0:.+]] = xfmr.dispatch @[[LIN:xk_linear_[0-9]+]](%[[E]]
// CHECK: %[[K0:.+]] = xfmr.dispatch @[[LIN]](%[[E]]
// CHECK: %[[V0:.+]] = xfmr.dispatch @[[LIN]](%[[E]]
// CHECK: %[[A0:.+]] = xfmr.dispatch @[[ATT:xk_attention_[0-9]+]](%[[Q0]], %[[K0]], %[[V0]], %{{.*}}, %{{.*}}) {layer = 0 : i64}
// CHECK: xfmr.dispatch @[[LIN]](%[[A0]]
// CHECK: xfmr.dispatch @[[LIN]](%[[A0]]
// CHECK: xfmr.dispatch @[[LIN]](%[[A0]]
// CHECK: xfmr.dispatch @[[ATT]]({{.*}}) {layer = 1 : i64}
// CHECK: xfmr.dispatch @[[HEAD:xk_lm_head_[0-9]+]](
// CHECK-NOT: xfmr.linear
// CHECK-NOT: xfmr.attention

// One kernel function per distinct (op, shape, schedule), holding the op.
// CHECK: func.func private @[[EMB]]({{.*}}) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = "rows"}
// CHECK: func.func private @[[LIN]]({{.*}}) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64}
// CHECK-NEXT: xfmr.linear
// CHECK: func.func private @[[ATT]]({{.*}} attributes {xfmr.kernel, xfmr.work = 2 : i64}
// CHECK-NEXT: xfmr.attention({{.*}} {layer = 0 : i64
// CHECK: func.func private @[[HEAD]]
// CHECK-NOT: func.func private @xk_linear
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x32xf32> {
  %wte = xfmr.weight "wte.weight" : tensor<32x16xf32>
  %h = xfmr.embedding %tokens, %wte at %pos : tensor<?xi32>, tensor<32x16xf32> -> tensor<?x16xf32>
  %w0 = xfmr.weight "w0" : tensor<16x16xf32>
  %q0 = xfmr.linear %h, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %k0 = xfmr.linear %h, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %v0 = xfmr.linear %h, %w0 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a0 = xfmr.attention(%q0, %k0, %v0), %cache at %pos {layer = 0 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %w1 = xfmr.weight "w1" : tensor<16x16xf32>
  %q1 = xfmr.linear %a0, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %k1 = xfmr.linear %a0, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %v1 = xfmr.linear %a0, %w1 : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %a1 = xfmr.attention(%q1, %k1, %v1), %cache at %pos {layer = 1 : i64, num_heads = 2 : i64} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !cache -> tensor<?x16xf32>
  %l = xfmr.lm_head %a1, %wte : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  return %l : tensor<?x32xf32>
}

// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-epilogues | FileCheck %s

// GPT-2's MLP: gelu(fc) becomes fc's activation, and the residual add after
// the output projection becomes that projection's residual.
// CHECK-LABEL: func.func @mlp
// CHECK: %[[FC:.+]] = xfmr.linear %arg0, %{{.*}}, %{{.*}} activation(gelu) : tensor<?x16xf32>, tensor<16x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
// CHECK-NOT: xfmr.gelu
// CHECK: %[[OUT:.+]] = xfmr.linear %[[FC]], %{{.*}}, %{{.*}} residual(%arg1 : tensor<?x16xf32>) : tensor<?x64xf32>, tensor<64x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
// CHECK-NOT: xfmr.add
// CHECK: return %[[OUT]]
func.func @mlp(%x: tensor<?x16xf32>, %h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %w1 = xfmr.weight "fc.weight" : tensor<16x64xf32>
  %b1 = xfmr.weight "fc.bias" : tensor<64xf32>
  %a = xfmr.linear %x, %w1, %b1 : tensor<?x16xf32>, tensor<16x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  %g = xfmr.gelu %a : tensor<?x64xf32>
  %w2 = xfmr.weight "proj.weight" : tensor<64x16xf32>
  %b2 = xfmr.weight "proj.bias" : tensor<16xf32>
  %o = xfmr.linear %g, %w2, %b2 : tensor<?x64xf32>, tensor<64x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %r = xfmr.add %h, %o : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// Activation then residual on the same linear; silu too.
// CHECK-LABEL: func.func @both
// CHECK: xfmr.linear %arg0, %{{.*}} activation(silu) residual(%arg1 : tensor<?x16xf32>)
// CHECK-NOT: xfmr.silu
// CHECK-NOT: xfmr.add
func.func @both(%x: tensor<?x16xf32>, %h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %w = xfmr.weight "w" : tensor<16x16xf32>
  %a = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %s = xfmr.silu %a : tensor<?x16xf32>
  %r = xfmr.add %s, %h : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// Llama's gated MLP: glu(gate, up) becomes the gate linear's activation and
// gate multiply, moved to where the glu was (after up), and the residual
// add after the down projection fuses as for GPT-2.
// CHECK-LABEL: func.func @gated_mlp
// CHECK: %[[UP:.+]] = xfmr.linear %arg0, %{{.*}} : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
// CHECK: %[[G:.+]] = xfmr.linear %arg0, %{{.*}} activation(silu) times(%[[UP]] : tensor<?x32xf32>) :
// CHECK-NOT: xfmr.glu
// CHECK: xfmr.linear %[[G]], %{{.*}} residual(%arg1 : tensor<?x16xf32>)
func.func @gated_mlp(%x: tensor<?x16xf32>, %h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %wg = xfmr.weight "gate_proj" : tensor<16x32xf32>
  %wu = xfmr.weight "up_proj" : tensor<16x32xf32>
  %wd = xfmr.weight "down_proj" : tensor<32x16xf32>
  %g = xfmr.linear %x, %wg : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %u = xfmr.linear %x, %wu : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %m = xfmr.glu %g, %u, silu : tensor<?x32xf32>
  %d = xfmr.linear %m, %wd : tensor<?x32xf32>, tensor<32x16xf32> -> tensor<?x16xf32>
  %r = xfmr.add %d, %h : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// Left alone: a linear whose result is also used elsewhere, an add whose
// other operand is computed after the linear, and an add of two non-linears.
// An add of a linear and its own input fuses (the input exists first).
// CHECK-LABEL: func.func @not_fused
// CHECK: %[[A:.+]] = xfmr.linear %arg0, %{{.*}} :
// CHECK: xfmr.gelu %[[A]]
// CHECK: %[[C:.+]] = xfmr.linear %arg0, %{{.*}} :
// CHECK: %[[E:.+]] = xfmr.silu %arg0
// CHECK: xfmr.add %[[C]], %[[E]]
// CHECK: xfmr.add %arg0, %arg0
// CHECK: xfmr.linear %arg0, %{{.*}} residual(%arg0 : tensor<?x16xf32>)
func.func @not_fused(%x: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>) {
  %w = xfmr.weight "w" : tensor<16x16xf32>
  %a = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %g = xfmr.gelu %a : tensor<?x16xf32>
  %c = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %e = xfmr.silu %x : tensor<?x16xf32>
  %s = xfmr.add %c, %e : tensor<?x16xf32>
  %t = xfmr.add %x, %x : tensor<?x16xf32>
  %d = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %u = xfmr.add %x, %d : tensor<?x16xf32>
  return %a, %g, %s, %t, %u : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>
}

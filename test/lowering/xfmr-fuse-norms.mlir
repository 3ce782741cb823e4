// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-norms | FileCheck %s

// A layer norm feeding linears becomes their prologue: each reads the
// norm's input and normalizes it itself.
// CHECK-LABEL: func.func @layer_norm
// CHECK-NOT: xfmr.layer_norm
// CHECK: xfmr.linear %arg0, %{{.*}}, %{{.*}} norm(%[[G:.+]] : tensor<16xf32>) norm_bias(%[[B:.+]] : tensor<16xf32>) {norm_epsilon = 1.000000e-05 : f64} : tensor<?x16xf32>, tensor<16x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
// CHECK: xfmr.linear %arg0, %{{.*}} norm(%[[G]] : tensor<16xf32>) norm_bias(%[[B]] : tensor<16xf32>) {norm_epsilon = 1.000000e-05 : f64}
func.func @layer_norm(%h: tensor<?x16xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>) {
  %g = xfmr.weight "ln.weight" : tensor<16xf32>
  %b = xfmr.weight "ln.bias" : tensor<16xf32>
  %x = xfmr.layer_norm %h, %g, %b {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w = xfmr.weight "fc.weight" : tensor<16x64xf32>
  %wb = xfmr.weight "fc.bias" : tensor<64xf32>
  %y = xfmr.linear %x, %w, %wb : tensor<?x16xf32>, tensor<16x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  %w2 = xfmr.weight "gate.weight" : tensor<16x8xf32>
  %z = xfmr.linear %x, %w2 : tensor<?x16xf32>, tensor<16x8xf32> -> tensor<?x8xf32>
  return %y, %z : tensor<?x64xf32>, tensor<?x8xf32>
}

// -----

// RMS norm (Llama): gamma only.
// CHECK-LABEL: func.func @rms_norm
// CHECK-NOT: xfmr.rms_norm
// CHECK: xfmr.linear %arg0, %{{.*}} norm(%{{.*}} : tensor<16xf32>) {norm_epsilon = 9.9999999999999995E-7 : f64}
// CHECK-NOT: norm_bias
func.func @rms_norm(%h: tensor<?x16xf32>) -> tensor<?x32xf32> {
  %g = xfmr.weight "norm.weight" : tensor<16xf32>
  %x = xfmr.rms_norm %h, %g {epsilon = 1.0e-06 : f64} : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w = xfmr.weight "q.weight" : tensor<16x32xf32>
  %y = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// Left alone: a norm that another op reads too (the LM head here), and a
// linear that already normalizes its input.
// CHECK-LABEL: func.func @not_fused
// CHECK: %[[X:.+]] = xfmr.layer_norm
// CHECK: xfmr.linear %[[X]], %{{.*}} :
// CHECK: xfmr.lm_head %[[X]]
// CHECK: %[[X2:.+]] = xfmr.layer_norm
// CHECK: xfmr.linear %[[X2]], %{{.*}} norm(
func.func @not_fused(%h: tensor<?x16xf32>) -> (tensor<?x16xf32>, tensor<?x32xf32>, tensor<?x16xf32>) {
  %g = xfmr.weight "ln.weight" : tensor<16xf32>
  %x = xfmr.layer_norm %h, %g, %g {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %w = xfmr.weight "w" : tensor<16x16xf32>
  %y = xfmr.linear %x, %w : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  %e = xfmr.weight "wte" : tensor<32x16xf32>
  %l = xfmr.lm_head %x, %e : tensor<?x16xf32>, tensor<32x16xf32> -> tensor<?x32xf32>
  %x2 = xfmr.layer_norm %h, %g, %g {epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %y2 = xfmr.linear %x2, %w norm(%g : tensor<16xf32>) {norm_epsilon = 1.0e-05 : f64} : tensor<?x16xf32>, tensor<16x16xf32> -> tensor<?x16xf32>
  return %y, %l, %y2 : tensor<?x16xf32>, tensor<?x32xf32>, tensor<?x16xf32>
}

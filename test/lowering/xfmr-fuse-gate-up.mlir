// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-gate-up | FileCheck %s
// RUN: xfmr-opt %s -split-input-file -xfmr-fuse-gate-up -xfmr-fuse-norms -xfmr-fuse-epilogues | FileCheck %s --check-prefix=PIPE

// Llama's gated MLP: gate_proj and up_proj (separate tensors) become one
// gated linear over their concat, [Wg | Wu]; the glu is gone.
// CHECK-LABEL: func.func @llama_mlp
// CHECK: %[[WG:.+]] = xfmr.weight "gate_proj" : tensor<16x32xf32>
// CHECK: %[[WU:.+]] = xfmr.weight "up_proj" : tensor<16x32xf32>
// CHECK: %[[W:.+]] = xfmr.concat %[[WG]], %[[WU]] : tensor<16x32xf32>, tensor<16x32xf32> -> tensor<16x64xf32>
// CHECK: %[[M:.+]] = xfmr.linear %{{.*}}, %[[W]] activation(silu) gated : tensor<?x16xf32>, tensor<16x64xf32> -> tensor<?x32xf32>
// CHECK-NOT: xfmr.glu
// CHECK: xfmr.linear %[[M]], %{{.*}} : tensor<?x32xf32>, tensor<32x16xf32> -> tensor<?x16xf32>
// The RMS norm before them and the residual after down fuse as before.
// PIPE-LABEL: func.func @llama_mlp
// PIPE: %[[M:.+]] = xfmr.linear %arg0, %{{.*}} norm(%{{.*}} : tensor<16xf32>) activation(silu) gated {norm_epsilon = {{.*}} : f64}
// PIPE-NOT: xfmr.rms_norm
// PIPE: xfmr.linear %[[M]], %{{.*}} residual(%arg0 : tensor<?x16xf32>)
func.func @llama_mlp(%h: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %g0 = xfmr.weight "norm" : tensor<16xf32>
  %x = xfmr.rms_norm %h, %g0 {epsilon = 1.0e-06 : f64} : tensor<?x16xf32>, tensor<16xf32> -> tensor<?x16xf32>
  %wg = xfmr.weight "gate_proj" : tensor<16x32xf32>
  %g = xfmr.linear %x, %wg : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %wu = xfmr.weight "up_proj" : tensor<16x32xf32>
  %u = xfmr.linear %x, %wu : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %m = xfmr.glu %g, %u, silu : tensor<?x32xf32>
  %wd = xfmr.weight "down_proj" : tensor<32x16xf32>
  %d = xfmr.linear %m, %wd : tensor<?x32xf32>, tensor<32x16xf32> -> tensor<?x16xf32>
  %r = xfmr.add %d, %h : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// Column views of one stored tensor side by side (a fused gate_up_proj, as
// Phi-3 stores it) become one wider view, biases too, quantized types kept.
// CHECK-LABEL: func.func @one_tensor_with_bias
// CHECK: %[[W:.+]] = xfmr.weight "gate_up" : tensor<16x64xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
// CHECK: %[[B:.+]] = xfmr.weight "gate_up.bias" : tensor<64xf32>
// CHECK: xfmr.linear %arg0, %[[W]], %[[B]] activation(gelu) gated : {{.*}} -> tensor<?x32xf32>
// CHECK-NOT: xfmr.concat
func.func @one_tensor_with_bias(%x: tensor<?x16xf32>) -> tensor<?x32xf32> {
  %wg = xfmr.weight "gate_up" : tensor<16x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
  %bg = xfmr.weight "gate_up.bias" : tensor<32xf32>
  %g = xfmr.linear %x, %wg, %bg : tensor<?x16xf32>, tensor<16x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>, tensor<32xf32> -> tensor<?x32xf32>
  %wu = xfmr.weight "gate_up" columns from 32 : tensor<16x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
  %bu = xfmr.weight "gate_up.bias" columns from 32 : tensor<32xf32>
  %u = xfmr.linear %x, %wu, %bu : tensor<?x16xf32>, tensor<16x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>, tensor<32xf32> -> tensor<?x32xf32>
  %m = xfmr.glu %g, %u, gelu : tensor<?x32xf32>
  return %m : tensor<?x32xf32>
}

// -----

// Left alone: different inputs; different weight types; one bias only; an
// up projection used elsewhere.
// CHECK-LABEL: func.func @not_fused
// CHECK-NOT: gated
// CHECK-COUNT-4: xfmr.glu
func.func @not_fused(%x: tensor<?x16xf32>, %y: tensor<?x16xf32>) -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %wg = xfmr.weight "g" : tensor<16x32xf32>
  %wu = xfmr.weight "u" : tensor<16x32xf32>
  %wb = xfmr.weight "u16" : tensor<16x32xbf16>
  %b = xfmr.weight "b" : tensor<32xf32>
  %g1 = xfmr.linear %x, %wg : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %u1 = xfmr.linear %y, %wu : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %m1 = xfmr.glu %g1, %u1, silu : tensor<?x32xf32>
  %g2 = xfmr.linear %x, %wg : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %u2 = xfmr.linear %x, %wb : tensor<?x16xf32>, tensor<16x32xbf16> -> tensor<?x32xf32>
  %m2 = xfmr.glu %g2, %u2, silu : tensor<?x32xf32>
  %g3 = xfmr.linear %x, %wg, %b : tensor<?x16xf32>, tensor<16x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %u3 = xfmr.linear %x, %wu : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %m3 = xfmr.glu %g3, %u3, silu : tensor<?x32xf32>
  %g4 = xfmr.linear %x, %wg : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %u4 = xfmr.linear %x, %wu : tensor<?x16xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %m4 = xfmr.glu %g4, %u4, silu : tensor<?x32xf32>
  return %m1, %m2, %m3, %m4, %u4 : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// RUN: xfmr-opt %s -xfmr-quantize-weights="precision=int4 group-size=32" -verify-diagnostics -o /dev/null

// A group that does not divide the reduction dimension is an error (it
// used to keep the weight f32 silently while the model was called int4).
func.func @odd(%x: tensor<?x48xf32>) -> tensor<?x32xf32> {
  %w = xfmr.weight "w" : tensor<48x32xf32>
  // expected-error @+1 {{quant group 32 does not divide the reduction dimension 48 of weight 'w'}}
  %y = xfmr.linear %x, %w : tensor<?x48xf32>, tensor<48x32xf32> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

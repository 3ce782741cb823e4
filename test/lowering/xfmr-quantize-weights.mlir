// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int8 scale-type=f32" | FileCheck %s --check-prefix=INT8
// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int4 group-size=32 zero-point=true" | FileCheck %s --check-prefix=INT4
// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int8 group-size=32" | FileCheck %s --check-prefix=INT8G
// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=bf16" | FileCheck %s --check-prefix=BF16
// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int8 exclude=lm_head,c_proj" | FileCheck %s --check-prefix=EXCL
// RUN: xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int4" -verify-diagnostics -o /dev/null
// RUN: not xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int3" 2>&1 | FileCheck %s --check-prefix=BADPREC
// RUN: not xfmr-opt %s -split-input-file -xfmr-quantize-weights="precision=int4 group-size=48" 2>&1 | FileCheck %s --check-prefix=BADGROUP

// Matrices become quantized; biases, norms and positions stay f32. The tied
// embedding table is shared by the embedding and the LM head.
// INT8: module attributes {xfmr.precision = "int8"}
// INT8-LABEL: func.func @block
// INT8: %[[E:.+]] = xfmr.weight "wte" : tensor<64x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
// INT8: xfmr.weight "wpe" : tensor<16x32xf32>
// INT8: xfmr.embedding %{{.*}}, %[[E]], %{{.*}} at
// INT8: %[[W:.+]] = xfmr.weight "h.0.attn.c_attn.weight" : tensor<32x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
// INT8: %[[B:.+]] = xfmr.weight "h.0.attn.c_attn.bias" : tensor<32xf32>
// INT8: xfmr.linear %{{.*}}, %[[W]], %[[B]]
// INT8: xfmr.weight "h.0.attn.c_proj.weight" : tensor<32x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
// INT8: xfmr.lm_head %{{.*}}, %[[E]]

// INT4: xfmr.weight "wte" : tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>
// INT4: xfmr.weight "h.0.attn.c_attn.weight" : tensor<32x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>

// int8 in groups of 32 reduction elements (llama.cpp's Q8_0 blocks).
// INT8G: xfmr.weight "wte" : tensor<64x32xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
// INT8G: xfmr.weight "h.0.attn.c_attn.weight" : tensor<32x32xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>

// BF16: xfmr.weight "wte" : tensor<64x32xbf16>
// BF16: xfmr.weight "h.0.attn.c_attn.weight" : tensor<32x32xbf16>

// Excluding the LM head splits the tied table: the embedding reads the
// quantized copy, the LM head the f32 one.
// EXCL-LABEL: func.func @block
// EXCL: %[[EQ:.+]] = xfmr.weight "wte" : tensor<64x32xi8, #xfmr.quant<bits = 8, group = 0, scale = f16>>
// EXCL: %[[EF:.+]] = xfmr.weight "wte" : tensor<64x32xf32>
// EXCL: xfmr.embedding %{{.*}}, %[[EQ]], %{{.*}} at
// EXCL: xfmr.weight "h.0.attn.c_proj.weight" : tensor<32x32xf32>
// EXCL: xfmr.lm_head %{{.*}}, %[[EF]]

// BADPREC: error: precision must be bf16, int8 or int4, got 'int3'
// BADGROUP: error: 4-bit weights need group 32, 64 or 128, got 48
func.func @block(%t: tensor<?xi32>, %pos: index) -> tensor<?x64xf32> {
  %wte = xfmr.weight "wte" : tensor<64x32xf32>
  %wpe = xfmr.weight "wpe" : tensor<16x32xf32>
  %h = xfmr.embedding %t, %wte, %wpe at %pos : tensor<?xi32>, tensor<64x32xf32>, tensor<16x32xf32> -> tensor<?x32xf32>
  %w = xfmr.weight "h.0.attn.c_attn.weight" : tensor<32x32xf32>
  %b = xfmr.weight "h.0.attn.c_attn.bias" : tensor<32xf32>
  %y = xfmr.linear %h, %w, %b : tensor<?x32xf32>, tensor<32x32xf32>, tensor<32xf32> -> tensor<?x32xf32>
  %p = xfmr.weight "h.0.attn.c_proj.weight" : tensor<32x32xf32>
  %z = xfmr.linear %y, %p : tensor<?x32xf32>, tensor<32x32xf32> -> tensor<?x32xf32>
  %l = xfmr.lm_head %z, %wte : tensor<?x32xf32>, tensor<64x32xf32> -> tensor<?x64xf32>
  return %l : tensor<?x64xf32>
}


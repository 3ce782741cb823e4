// RUN: xfmr-opt %s -split-input-file -xfmr-lower-kernels-to-loops="max-tokens=32" -verify-diagnostics | FileCheck %s

// The kernel ABI: inputs and the output as static memrefs (activations get
// max-tokens rows), then n, pos, begin, end. The weight is a byte buffer of
// 64-column blocks (WeightLayout ColumnBlocks); the body is a loop over this
// call's blocks with a register tile of 4 rows x 4 vectors, and a one-row
// remainder loop.
// CHECK-LABEL: func.func @xk_linear_0(
// CHECK-SAME: %[[X:.+]]: memref<32x64xf32>, %[[W:.+]]: memref<32768xi8>, %[[B:.+]]: memref<128xf32>, %[[OUT:.+]]: memref<32x128xf32>,
// CHECK-SAME: %[[N:.+]]: index, %[[POS:.+]]: index, %[[BEGIN:.+]]: index, %[[END:.+]]: index)
// CHECK: scf.for %[[U:.+]] = %[[BEGIN]] to %[[END]]
// CHECK:   %[[BLOCK:.+]] = memref.view %[[W]][%{{.+}}][] : memref<32768xi8> to memref<64x64xf32>
// CHECK:   scf.for {{.*}} iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:     vector.load %[[BLOCK]]
// CHECK:     vector.fma
// CHECK:   vector.store {{.*}}, %[[OUT]]
// CHECK:   scf.for {{.*}} to %[[N]]
// CHECK-NOT: xfmr.
func.func private @xk_linear_0(%x: tensor<?x64xf32>, %w: tensor<64x128xf32>, %b: tensor<128xf32>) -> tensor<?x128xf32> attributes {xfmr.kernel, xfmr.work = 2 : i64} {
  %y = xfmr.linear %x, %w, %b {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>} : tensor<?x64xf32>, tensor<64x128xf32>, tensor<128xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// A KV cache operand becomes this layer's keys and values; the position
// operand is the ABI's pos. exp is expanded to a polynomial.
// CHECK-LABEL: func.func @xk_attention_0(
// CHECK-SAME: memref<32x16xf32>, %{{.+}}: memref<32x16xf32>, %{{.+}}: memref<32x16xf32>, %[[KC:.+]]: memref<2x8x8xf32>, %[[VC:.+]]: memref<2x8x8xf32>, %{{.+}}: memref<32x16xf32>,
// CHECK: vector.store {{.*}}, %[[KC]]
// CHECK: vector.store {{.*}}, %[[VC]]
// CHECK: arith.maximumf
// CHECK-NOT: math.exp
func.func private @xk_attention_0(%q: tensor<?x16xf32>, %k: tensor<?x16xf32>, %v: tensor<?x16xf32>, %c: !xfmr.kv_cache<layers = 1, heads = 2, context = 8, head_dim = 8, f32>, %p: index) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = 2 : i64} {
  %a = xfmr.attention(%q, %k, %v), %c at %p {layer = 0 : i64, num_heads = 2 : i64, schedule = #xfmr.schedule<vector_width = 8, tile_m = 1, tile_n = 8, unroll = 1>} : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>), !xfmr.kv_cache<layers = 1, heads = 2, context = 8, head_dim = 8, f32> -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
}

// -----

// Non-kernel functions (@forward) are dropped: the manifest holds them.
// CHECK-NOT: func.func @forward
// CHECK: func.func @xk_gelu_0(%{{.+}}: memref<32x16xf32>, %{{.+}}: memref<32x16xf32>, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index, %{{.+}}: index)
// CHECK-NOT: math.tanh
func.func @forward(%x: tensor<?x16xf32>) -> tensor<?x16xf32> {
  return %x : tensor<?x16xf32>
}
func.func private @xk_gelu_0(%x: tensor<?x16xf32>) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = "rows"} {
  %y = xfmr.gelu %x {schedule = #xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 16, unroll = 1>} : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func private @xk_linear_bad(%x: tensor<?x64xf32>, %w: tensor<64x48xf32>) -> tensor<?x48xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  // expected-error @+1 {{schedule tile_n 32 does not divide the 48 columns}}
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1>} : tensor<?x64xf32>, tensor<64x48xf32> -> tensor<?x48xf32>
  return %y : tensor<?x48xf32>
}

// -----

func.func private @xk_norm_bad(%x: tensor<?x24xf32>, %g: tensor<24xf32>) -> tensor<?x24xf32> attributes {xfmr.kernel, xfmr.work = "rows"} {
  // expected-error @+1 {{schedule vector_width 16 does not divide the row length 24}}
  %y = xfmr.rms_norm %x, %g {epsilon = 1.0e-5 : f64, schedule = #xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 16, unroll = 1>} : tensor<?x24xf32>, tensor<24xf32> -> tensor<?x24xf32>
  return %y : tensor<?x24xf32>
}

// -----

func.func private @xk_unscheduled(%x: tensor<?x16xf32>) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = "rows"} {
  // expected-error @+1 {{has no #xfmr.schedule; run xfmr-assign-schedules first}}
  %y = xfmr.silu %x : tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

func.func private @xk_f16(%x: tensor<?x16xf16>) -> tensor<?x16xf16> attributes {xfmr.kernel, xfmr.work = "rows"} {
  // expected-error @+1 {{CPU lowering supports f32 activations only}}
  %y = xfmr.silu %x {schedule = #xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 16, unroll = 1>} : tensor<?x16xf16>
  return %y : tensor<?x16xf16>
}

// -----

// int8 weights: scales then codes per block; codes widen in registers and
// the channel scale applies once after the reduction.
// CHECK-LABEL: func.func @xk_int8(
// CHECK-SAME: %{{.+}}: memref<32x64xf32>, %[[W:.+]]: memref<1088xi8>,
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<1088xi8> to memref<64x16xi8>
// CHECK: vector.load {{.*}} : memref<64x16xi8>, vector<16xi8>
// CHECK: arith.sitofp {{.*}} : vector<16xi8> to vector<16xf32>
// CHECK: memref.view %[[W]][%{{.+}}][] : memref<1088xi8> to memref<16xf32>
func.func private @xk_int8(%x: tensor<?x64xf32>, %w: tensor<64x16xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 16, unroll = 1>} : tensor<?x64xf32>, tensor<64x16xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// int4 weights: groups of 32 rows, two columns per byte.
// CHECK-LABEL: func.func @xk_int4(
// CHECK: memref.view {{.*}} to memref<32x16xi8>
// CHECK: arith.andi
// CHECK: arith.shrui
// CHECK: arith.uitofp {{.*}} : vector<16xi8> to vector<16xf32>
func.func private @xk_int4(%x: tensor<?x64xf32>, %w: tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>>) -> tensor<?x32xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 32, unroll = 1>} : tensor<?x64xf32>, tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

func.func private @xk_int4_tile(%x: tensor<?x64xf32>, %w: tensor<64x16xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>>) -> tensor<?x16xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  // expected-error @+1 {{int4 and int6 weights need tile_n (16) to be a multiple of 2 x vector_width (16)}}
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 16, unroll = 1>} : tensor<?x64xf32>, tensor<64x16xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Q6_K rows decode 8 or 16 lanes of a group of 16 (one or two nibble halves).
!q6k = tensor<64x256xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>>
func.func private @xk_q6k_head(%x: tensor<?x256xf32>, %e: !q6k) -> tensor<?x64xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  // expected-error @+1 {{Q6_K rows decode 8 or 16 lanes, not 4}}
  %y = xfmr.lm_head %x, %e {schedule = #xfmr.schedule<vector_width = 4, tile_m = 1, tile_n = 16, unroll = 1>} : tensor<?x256xf32>, !q6k -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// AVX2 dot products (avx2-dot, no VNNI): vpmaddubsw + vpmaddwd, not vpdpbusd.
// RUN: xfmr-opt %s -split-input-file -xfmr-lower-kernels-to-loops="max-tokens=32 avx2-dot=true" -verify-diagnostics | FileCheck %s --check-prefix=AVX2
// AVX2-LABEL: func.func @xk_int4_avx2_dot
// AVX2: llvm.x86.avx2.pmadd.ub.sw
// AVX2: llvm.x86.avx2.pmadd.wd
// AVX2-NOT: vpdpbusd
func.func private @xk_int4_avx2_dot(%x: tensor<?x64xf32>, %w: tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>>) -> tensor<?x32xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 1, tile_n = 32, unroll = 1, dot = true>} : tensor<?x64xf32>, tensor<64x32xi4, #xfmr.quant<bits = 4, group = 32, scale = f16>> -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}

// -----

// The row that streams a column block from memory (decode's one row, the
// first of a few) prefetches it ahead: into L1 (locality 3, prefetcht0) by
// default, into L2 (locality 2, prefetcht1) with prefetch_to = l2. Rows
// that find the block cached, and row tiles of a prompt, prefetch into L1
// either way (and the next block into L2); prefetch = 0 turns the block
// prefetch off.
// CHECK-LABEL: func.func @xk_linear_l1(
// CHECK: memref.prefetch {{.*}}, read, locality<3>, data : memref<64x64xf32>
// CHECK-LABEL: func.func @xk_linear_l2(
// CHECK-NOT: locality<3>
// CHECK: memref.prefetch {{.*}}, read, locality<2>, data : memref<64x64xf32>
// CHECK: scf.for %{{.*}} = %c1 to
// CHECK: memref.prefetch {{.*}}, read, locality<3>, data : memref<64x64xf32>
// CHECK: scf.for {{.*}} step %c4
// CHECK: memref.prefetch {{.*}}, read, locality<3>, data : memref<64x64xf32>
// CHECK: memref.prefetch {{.*}}, read, locality<2>, data : memref<{{[0-9]+}}xi8>
// CHECK-LABEL: func.func @xk_linear_off(
// CHECK-NOT: locality<3>
// CHECK: return
func.func private @xk_linear_l1(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x64xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func private @xk_linear_l2(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x64xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1, prefetch_to = l2>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func private @xk_linear_off(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x64xf32> attributes {xfmr.kernel, xfmr.work = 1 : i64} {
  %y = xfmr.linear %x, %w {schedule = #xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1, prefetch = 0>} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

//===- Passes.td - xfmr passes -----------------------------*- tablegen -*-===//
#ifndef XFMR_PASSES
#define XFMR_PASSES

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Model-level passes (on the xfmr dialect)
//===----------------------------------------------------------------------===//

def XfmrAssignSchedulesPass : Pass<"xfmr-assign-schedules", "ModuleOp"> {
  let summary = "Attach a default #xfmr.schedule to every compute op without one";
  let description = [{
    Writes the knobs lowering reads (vector width, register tile, thread
    split) on each compute op, fitted to its shapes: the vector width and the
    column tile are shrunk until they divide the dimension they tile.
    Schedules already present (pinned by hand or by the autotuner) are kept.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes of one SIMD vector (16 for AVX-512, 8 for AVX2)">,
    Option<"tileM", "tile-m", "int64_t", /*default=*/"0",
           "rows of a matrix-product register tile (0: by weight format, "
           "8 for f32/bf16 weights widened to f32, 4 otherwise)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"0",
           "columns of a matrix-product register tile, the thread split unit "
           "(0: by weight format, 48 for widened f32/bf16, 64 otherwise)">,
    Option<"vnni", "vnni", "bool", /*default=*/"false",
           "int8/int4 weights: VNNI dot products on quantized activations">,
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "bf16 weights: AVX512-BF16 dot products on bf16 activations">,
    Option<"amx", "amx", "bool", /*default=*/"false",
           "int8 weights with vnni: AMX tiles for prefill">,
    Option<"avx2Dot", "avx2-dot", "bool", /*default=*/"false",
           "without VNNI: int8 and 4-bit weights' dot products by AVX2's vpmaddubsw "
           "and vpmaddwd on quantized activations (vector_width 16, two "
           "256-bit halves)">,
    Option<"linearPrefetch", "linear-prefetch", "int64_t", /*default=*/"-1",
           "the `prefetch` of every linear schedule: -1 the kernel's default, "
           "0 off, else bytes ahead">,
  ];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrQuantizeWeightsPass : Pass<"xfmr-quantize-weights", "ModuleOp"> {
  let summary = "Give matrix weights a bf16, int8 or int4 type";
  let description = [{
    Retypes the `xfmr.weight`s that `xfmr.linear`, `xfmr.lm_head` and
    `xfmr.embedding` read as matrices: `bf16` elements, or integers with an
    `#xfmr.quant` encoding (int8: symmetric per output channel; int4:
    `group-size` elements of the reduction dimension per scale, optionally
    with zero points). Biases, norms and positional tables stay f32. The
    numbers are quantized when the compiled model is written, by plain
    round-to-nearest of each group to its scale (max |w| / 127 or / 7).

    `exclude` leaves weights alone by consumer (`lm_head`, `embedding`,
    `linear`) or by a substring of the weight's name (`c_proj`). A weight
    shared by an excluded and an included consumer (GPT-2's tied `wte`) is
    split into two weight ops.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"int8\"",
           "bf16, int8 or int4">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "reduction elements per scale (32, 64 or 128); 0: int4 32, int8 "
           "one scale per output channel">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f16\"",
           "type of the stored scales: f16 or f32">,
    Option<"zeroPoint", "zero-point", "bool", /*default=*/"false",
           "int4: asymmetric groups with a zero point">,
    ListOption<"exclude", "exclude", "std::string",
               "consumers (lm_head, embedding, linear) or weight-name substrings to keep">,
  ];
}

def XfmrKVCachePrecisionPass : Pass<"xfmr-kv-cache-precision", "ModuleOp"> {
  let summary = "Store the KV cache in f16 or int8";
  let description = [{
    Retypes every `!xfmr.kv_cache` argument of the module's functions to the
    given storage: `f16`, or `int8` (i8 codes with one f32 scale per stored
    head vector, `max|x| / 127`). Attention keeps computing in f32; only what
    the cache holds, and so the memory it reads per token, changes.
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"f16\"",
           "f32, f16 or int8">,
  ];
}

def XfmrPruneLayersPass : Pass<"xfmr-prune-layers", "ModuleOp"> {
  let summary = "Drop whole transformer blocks";
  let description = [{
    Removes the listed blocks (`drop=3,5`) or the last N (`drop-last=2`)
    from `@forward`. A block is delimited by the residual stream: block `l`
    starts at the residual value its attention (`layer = l`) reads through
    its norm and projections, and ends where block `l + 1` starts (for the
    last block: at the value the final norm reads). Dropping a block
    forwards its input residual to its output's users; its ops and weights
    disappear, the remaining attention layers are renumbered and the KV
    cache shrinks to the remaining layers.
  }];
  let options = [
    ListOption<"drop", "drop", "int64_t", "indices of the blocks to drop">,
    Option<"dropLast", "drop-last", "int64_t", /*default=*/"0",
           "drop this many blocks from the end">,
  ];
}

//===----------------------------------------------------------------------===//
// Kernel formation
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Fusion (on the xfmr dialect, before schedules)
//===----------------------------------------------------------------------===//

def XfmrFuseRotaryPass : Pass<"xfmr-fuse-rotary", "ModuleOp"> {
  let summary = "Fold the rotary embeddings of q and k into their attention";
  let description = [{
    When an `xfmr.attention`'s q and k are each the only use of an
    `xfmr.rotary` at the attention's position, with the cache's head_dim and
    the same theta and scaling, the attention takes the unrotated q and k
    and `rope_theta` / `rope_scaling`: its kernel rotates each key once as
    it appends it to the cache and each query as it loads it, so the rotated
    vectors never go through memory and two dispatches per layer go away
    (and the Q, K, V projections become adjacent for `xfmr-fuse-qkv`).
  }];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrFuseQKVPass : Pass<"xfmr-fuse-qkv", "ModuleOp"> {
  let summary = "Merge the Q, K and V projections of an attention into one linear";
  let description = [{
    When an `xfmr.attention`'s q, k and v are each produced by an
    `xfmr.linear` of the same input, whose weights (and biases) are
    side-by-side column views of one stored tensor (GPT-2's `c_attn`), the
    three become one linear over the whole width and the attention takes
    its packed `[q | k | v]` output: one kernel streams the three matrices,
    one dispatch instead of three. Projections fused otherwise (a norm, an
    activation) or used elsewhere are left alone.
  }];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrFuseGateUpPass : Pass<"xfmr-fuse-gate-up", "ModuleOp"> {
  let summary = "Merge a gated MLP's gate and up projections into one gated linear";
  let description = [{
    `xfmr.glu %gate, %up, silu` of two `xfmr.linear` of the same input (and
    the same fused norm, if any), each used only there and without an
    epilogue, becomes one `xfmr.linear ... activation(silu) gated` over the
    weights side by side, `[Wg | Wu]` (a wider view of one stored tensor, or
    an `xfmr.concat` of two): one kernel streams both matrices and computes
    `silu(x Wg) * (x Wu)` in registers, one dispatch instead of two, and the
    up projection's output never goes to memory. Biases merge the same way;
    projections that differ in input, norm, weight type or bias are left
    for `xfmr-fuse-epilogues` (the gate's linear then multiplies by `up`).
  }];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrFuseNormsPass : Pass<"xfmr-fuse-norms", "ModuleOp"> {
  let summary = "Fold a layer/RMS norm into the prologue of the linears it feeds";
  let description = [{
    An `xfmr.layer_norm` or `xfmr.rms_norm` whose every user is an
    `xfmr.linear` without a norm becomes `norm(gamma) [norm_bias(beta)]` on
    each of them, reading the norm's input directly: the normalized rows are
    never written to memory (dot-product kernels quantize them straight
    away).
  }];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrFuseEpiloguesPass : Pass<"xfmr-fuse-epilogues", "ModuleOp"> {
  let summary = "Fold activations and residual adds into the linear before them";
  let description = [{
    `xfmr.gelu`/`xfmr.silu` of a linear used only there becomes the linear's
    `activation(...)`; `xfmr.glu %gate, %up` of such a linear becomes the
    gate linear's `activation(...)` and `times(%up)` (the gated MLP's
    multiply); `xfmr.add` of such a linear's result and another
    value becomes the linear's `residual(...)` (the bias is already part of
    the linear). Each fused op saves a kernel launch and a round trip of its
    activations through memory.
  }];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrSplitAttentionPass : Pass<"xfmr-split-attention", "ModuleOp"> {
  let summary = "Flash-decoding: split each attention over ranges of positions";
  let description = [{
    Rewrites `xfmr.attention` into `xfmr.attention_partial` (work units:
    kv heads x `splits` ranges of the cached positions, so a long context
    or a model with few kv heads keeps every thread busy) and
    `xfmr.attention_combine`, which merges the ranges' online-softmax
    states per row.
  }];
  let options = [
    Option<"splits", "splits", "int64_t", /*default=*/"2",
           "ranges of cached positions per kv head (>= 2)">,
  ];
  let dependentDialects = ["::mlir::xfmr::XfmrDialect"];
}

def XfmrOutlineKernelsPass : Pass<"xfmr-outline-kernels", "ModuleOp"> {
  let summary = "Outline each compute op of @forward into a shared kernel function";
  let description = [{
    Replaces every compute op in `@forward` with an `xfmr.dispatch` of a
    private kernel function `@xk_<op>_<n>` holding that op alone. Ops with
    the same name, operand and result types, schedule and code-relevant
    attributes share one kernel, so GPT-2's 12 layers compile about ten
    kernels, not 120. The attention `layer` stays on the dispatch (it picks
    the cache slice at run time). Each kernel records how its work splits
    over threads in `xfmr.work`: `"rows"` (one unit per token) or a constant
    number of units.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

//===----------------------------------------------------------------------===//
// CPU code generation
//===----------------------------------------------------------------------===//

def XfmrLowerKernelsToLoopsPass : Pass<"xfmr-lower-kernels-to-loops", "ModuleOp"> {
  let summary = "Rewrite each kernel function into memref/scf/vector loops";
  let description = [{
    Gives every `xfmr.kernel` function the kernel ABI and a body of upstream
    ops. Arguments become static memrefs (activations sized for `max-tokens`
    rows), the result becomes a trailing output memref, and four `index`
    arguments follow: the token count `n`, the position `pos`, and the
    `[begin, end)` range of work units this call computes. The body is
    generated per op family from the op's `#xfmr.schedule`: register-tiled
    outer products for `xfmr.linear`, row-parallel dot products for
    `xfmr.lm_head`, one-pass online-softmax attention per kv head, and
    vectorized row loops for norms and element-wise ops.
    `@forward` is dropped: its dispatch list lives on in the manifest.
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"1024",
           "largest number of tokens one call processes (activation rows)">,
    Option<"avx2Dot", "avx2-dot", "bool", /*default=*/"false",
           "emit the dot products of `dot` schedules with AVX2's vpmaddubsw "
           "+ vpmaddwd instead of AVX-512 VNNI's vpdpbusd (int8 codes by "
           "the sign trick, so 16-bit pair sums cannot saturate)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect", "::mlir::func::FuncDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::amx::AMXDialect"
  ];
}

def XfmrEmitKernelEntriesPass : Pass<"xfmr-emit-kernel-entries", "ModuleOp"> {
  let summary = "Give each lowered kernel a uniform C entry point";
  let description = [{
    Runs on the LLVM dialect. For every kernel `@xk_*` it adds
    `void xk_*_entry(void *const *buffers, int64_t n, int64_t pos,
    int64_t begin, int64_t end)`, which loads the buffer pointers and calls
    the kernel with the bare-pointer memref convention. The runtime calls
    every kernel through this one signature.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def XfmrEmitKernelTablePass : Pass<"xfmr-emit-kernel-table", "ModuleOp"> {
  let summary = "Export the table of kernels the runtime binds a manifest to";
  let description = [{
    Runs on the LLVM dialect, after `xfmr-emit-kernel-entries`. Adds the
    global `xfmr_kernel_table` (layout: `runtime/include/xfmr/kernel_table.h`):
    for every kernel, its entry point, its name, its buffer count with the
    bytes each buffer may be touched over (from `xfmr.buffer_bytes`, set by
    `xfmr-lower-kernels-to-loops`) and its work units (`xfmr.work`); for
    the model, the hash of the manifest it was compiled with, the rows of
    every activation buffer, the vocabulary and the KV cache's positions. The runtime looks
    kernels up only in this table and checks every dispatch against it.
  }];
  let options = [
    Option<"manifestHash", "manifest-hash", "uint64_t", "0",
           "hash64 of the manifest.txt these kernels go with">,
    Option<"maxTokens", "max-tokens", "int64_t", "1024",
           "rows of every activation buffer">,
    Option<"vocab", "vocab", "int64_t", "0",
           "rows of the embedding table (token ids are below it)">,
    Option<"kvContext", "kv-context", "int64_t", "0",
           "positions of the KV cache (0: none)">,
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // XFMR_PASSES

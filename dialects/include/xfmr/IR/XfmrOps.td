//===- XfmrOps.td - xfmr operations ------------------------*- tablegen -*-===//
//
// The twenty-odd ops a transformer needs, written by hand. Activations are
// `tensor<?xD>`: the leading dimension is the number of tokens processed in
// one call (the prompt during prefill, 1 during decode).
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_OPS
#define XFMR_OPS

include "xfmr/IR/XfmrDialect.td"
include "xfmr/IR/XfmrTypes.td"
include "xfmr/IR/XfmrAttrs.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

def Xfmr_Activation : 2DTensorOf<[F32, F16, BF16]>;
def Xfmr_Vector : 1DTensorOf<[F32, F16, BF16]>;
def Xfmr_Tokens : 1DTensorOf<[I32]>;
def Xfmr_Matrix : 2DTensorOf<[AnyType]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Xfmr_WeightOp : Xfmr_Op<"weight", [Pure]> {
  let summary = "A tensor of the model file, referenced by name";
  let description = [{
    Produces a tensor stored in the model's weight file under `name`. The
    bytes never appear in the IR. The result may be a view of the stored
    tensor:

    * `columns from N`: the columns `[N, N + cols)` of the stored tensor's
      last dimension (GPT-2 stores Q, K and V side by side in `c_attn`);
    * `transposed`: the stored 2-D tensor transposed.

    Both together mean the stored tensor transposed, then its columns
    `[N, N + cols)`: the stored rows `[N, N + cols)`, whole. That is the
    view of one part of a fused `[out, in]` matrix (GGUF's GPT-2
    `attn_qkv`, `[3E, E]`: q, k and v are its rows `[0, E)`, `[E, 2E)`,
    `[2E, 3E)`), and since each stored row is taken whole, blocks quantized
    along the stored rows (a file's Q8_0 / Q4_0) stay intact in the view.

    The compiled model materializes each view in the layout its kernel reads.

    ```mlir
    %wq = xfmr.weight "h.0.attn.c_attn.weight" columns from 0 : tensor<768x768xf32>
    // From GGUF, c_attn is stored [2304, 768] ([out, in]): K is its rows
    // [768, 1536), read as a [768 (in), 768 (out)].
    %wk = xfmr.weight "h.0.attn.c_attn.weight" columns from 768 transposed : tensor<768x768xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<I64Attr>:$column_offset,
                       UnitAttr:$transposed);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $name (`columns` `from` $column_offset^)? (`transposed` $transposed^)?
    attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def Xfmr_ConcatOp : Xfmr_Op<"concat", [Pure]> {
  let summary = "Weights side by side: the columns of each part in order";
  let description = [{
    One matrix (or vector) made of the `xfmr.weight` views `parts`, their
    last dimensions concatenated: Llama's q_proj, k_proj and v_proj become
    one QKV weight (`xfmr-fuse-qkv`), as GPT-2's c_attn already is. The
    parts have the same rank, rows, element type and encoding (one
    quantization pass gave them their types, and per-column scales and
    groups along the rows do not cross the seams), so the compiled model
    packs the concatenation as one weight.

    ```mlir
    %w = xfmr.concat %wq, %wk, %wv : tensor<64x64xf32>, tensor<64x32xf32>, tensor<64x32xf32> -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyRankedTensor>:$parts);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$parts attr-dict `:` type($parts) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Embeddings and norms
//===----------------------------------------------------------------------===//

def Xfmr_EmbeddingOp : Xfmr_Op<"embedding", [Pure]> {
  let summary = "Token embedding plus optional learned positional embedding";
  let description = [{
    `result[t, :] = table[tokens[t], :] + positions[pos + t, :]` for the `n`
    tokens of the call. Without `positions` (Llama: rotary embeddings are
    applied in attention instead) only the token row is copied. Token ids
    are checked against the vocabulary by the runtime before the call.
  }];
  let arguments = (ins Xfmr_Tokens:$tokens, Xfmr_Matrix:$table,
                       Optional<Xfmr_Matrix>:$positions, Index:$pos,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table (`,` $positions^)? `at` $pos attr-dict `:`
    type($tokens) `,` type($table) (`,` type($positions)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Xfmr_LayerNormOp : Xfmr_Op<"layer_norm", [Pure]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `y = (x - mean(x)) / sqrt(var(x) + epsilon) * gamma + beta`, per row,
    with the biased variance (as PyTorch's `nn.LayerNorm`).
  }];
  let arguments = (ins Xfmr_Activation:$input, Xfmr_Vector:$gamma,
                       Xfmr_Vector:$beta, F64Attr:$epsilon,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    $input `,` $gamma `,` $beta attr-dict `:` type($input) `,` type($gamma)
    `,` type($beta) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Xfmr_RMSNormOp : Xfmr_Op<"rms_norm", [Pure]> {
  let summary = "RMS normalization over the last dimension (Llama)";
  let description = [{
    `y = x / sqrt(mean(x^2) + epsilon) * gamma`, per row.
  }];
  let arguments = (ins Xfmr_Activation:$input, Xfmr_Vector:$gamma,
                       F64Attr:$epsilon,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    $input `,` $gamma attr-dict `:` type($input) `,` type($gamma) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Matrix products
//===----------------------------------------------------------------------===//

def Xfmr_LinearOp : Xfmr_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Matrix product y = act(norm(x) W + b) + r, with optional parts";
  let description = [{
    `x : tensor<?xK>`, `weight : tensor<KxN>` (input-major, as GPT-2's
    `Conv1D` stores it), `bias : tensor<N>`, result `tensor<?xN>`. The weight
    operand is any 2-D tensor type so quantized weight types can take its
    place. Decode (one row) is a memory-bound matrix-vector product; prefill
    a matrix-matrix product tiled by the op's schedule.

    The fusion passes fold neighbours into the kernel, each optional:

    * `norm(%gamma)` with `norm_bias(%beta)`: a layer norm of each input row
      (`(x - mean) * rstd * gamma + beta`); `norm(%gamma)` alone: an RMS
      norm. `norm_epsilon` is then required. The prologue normalizes a tile
      of rows once and every column block reuses it (and, for dot-product
      kernels, quantizes the normalized rows).
    * `activation(gelu | silu)`: applied to `x W + b` in the epilogue.
    * `times(%u)`: the activated result multiplied by `u` (same type as the
      result): the gate multiply of a gated MLP, `act(x Wg) * (x Wu)`.
    * `gated` (with `activation`): the weight holds a gated MLP's gate and
      up projections side by side, `[K, 2N] = [Wg | Wu]` (bias `[bg | bu]`),
      and the result is `act(x Wg + bg) * (x Wu + bu)`, `N` columns: one
      kernel streams both projections and multiplies in registers.
    * `residual(%r)`: `r` (same type as the result) added last, in the
      epilogue: the residual stream of a transformer block.

    ```mlir
    %h = xfmr.linear %x, %w, %b norm(%g : tensor<768xf32>) norm_bias(%be : tensor<768xf32>)
           activation(gelu) {norm_epsilon = 1.0e-05 : f64}
           : tensor<?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32> -> tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins Xfmr_Activation:$input, Xfmr_Matrix:$weight,
                       Optional<Xfmr_Vector>:$bias,
                       Optional<Xfmr_Vector>:$norm_gamma,
                       Optional<Xfmr_Vector>:$norm_beta,
                       Optional<Xfmr_Activation>:$residual,
                       Optional<Xfmr_Activation>:$multiplier,
                       OptionalAttr<F64Attr>:$norm_epsilon,
                       OptionalAttr<Xfmr_GatedActivation>:$activation,
                       UnitAttr:$gated,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)?
    (`norm` `(` $norm_gamma^ `:` type($norm_gamma) `)`)?
    (`norm_bias` `(` $norm_beta^ `:` type($norm_beta) `)`)?
    (`activation` `(` $activation^ `)`)?
    (`gated` $gated^)?
    (`times` `(` $multiplier^ `:` type($multiplier) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [
    OpBuilder<(ins "Type":$result, "Value":$input, "Value":$weight,
                   "Value":$bias), [{
      build($_builder, $_state, result, input, weight, bias, Value(), Value(),
            Value(), Value(), FloatAttr(), GatedActivationAttr(), UnitAttr(),
            ScheduleAttr());
    }]>
  ];
}

def Xfmr_LMHeadOp : Xfmr_Op<"lm_head", [Pure]> {
  let summary = "Logits: hidden states times the (tied) embedding table";
  let description = [{
    `logits[t, v] = sum_d x[t, d] * weight[v, d]`: `weight : tensor<VxD>` is
    vocabulary-major, the layout of both a tied GPT-2 `wte` and Llama's
    `lm_head.weight`. Each logit is a dot product of two contiguous rows.
    The runtime may ask for the logits of the last rows only.
  }];
  let arguments = (ins Xfmr_Activation:$input, Xfmr_Matrix:$weight,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Element-wise
//===----------------------------------------------------------------------===//

class Xfmr_UnaryOp<string mnemonic, string sum, string desc>
    : Xfmr_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = sum;
  let description = desc;
  let arguments = (ins Xfmr_Activation:$input,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Xfmr_GeluOp : Xfmr_UnaryOp<"gelu", "GELU, tanh approximation", [{
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (GPT-2's `gelu_new`).
  }]>;

def Xfmr_SiluOp : Xfmr_UnaryOp<"silu", "SiLU (swish)", [{
    `x * sigmoid(x)`.
  }]>;

def Xfmr_AddOp : Xfmr_Op<"add", [Pure, SameOperandsAndResultType]> {
  let summary = "Residual add";
  let description = [{ Element-wise `lhs + rhs`; the residual stream. }];
  let arguments = (ins Xfmr_Activation:$lhs, Xfmr_Activation:$rhs,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Xfmr_GLUOp : Xfmr_Op<"glu", [Pure, SameOperandsAndResultType]> {
  let summary = "Gated MLP activation: act(gate) * up";
  let description = [{
    The middle of a gated MLP (SwiGLU for Llama with `activation = silu`):
    `down(act(gate(x)) * up(x))` is written as two `xfmr.linear`, this op,
    and a third `xfmr.linear`.
  }];
  let arguments = (ins Xfmr_Activation:$gate, Xfmr_Activation:$up,
                       Xfmr_GatedActivation:$activation,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = "$gate `,` $up `,` $activation attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Xfmr_RotaryOp : Xfmr_Op<"rotary", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding (RoPE) of queries or keys";
  let description = [{
    Rotates each `head_dim`-wide head of row `t` by the angles of position
    `pos + t`, with frequencies `theta^(-2i/head_dim)` (stretched by
    `scaling` when present), in the "rotate half" pairing
    `(i, i + head_dim/2)` of Hugging Face's Llama.
  }];
  let arguments = (ins Xfmr_Activation:$input, Index:$pos,
                       I64Attr:$head_dim, F64Attr:$theta,
                       OptionalAttr<Xfmr_RopeScalingAttr>:$scaling,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = "$input `at` $pos attr-dict `:` type($input)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The head_dim/2 inverse frequencies, scaling applied.
    SmallVector<double> getInverseFrequencies() {
      return ropeInverseFrequencies(getHeadDim(), getTheta().convertToDouble(),
                                    getScalingAttr());
    }
  }];
}

def Xfmr_AttentionOp : Xfmr_Op<"attention"> {
  let summary = "Causal multi-head attention that reads and appends a KV cache";
  let description = [{
    For the `n` new tokens at positions `pos .. pos+n-1`: writes `k` and `v`
    into layer `layer` of `cache` at those positions, then for every query
    head `h` and row `t` computes
    `softmax(q_h[t] . K_g[0 .. pos+t]^T * scale) . V_g[0 .. pos+t]`, where
    `g = h / (num_heads / kv_heads)` (grouped-query attention when the cache
    has fewer heads than `num_heads`). `scale` defaults to
    `1/sqrt(head_dim)`.

    The inputs are either `q, k, v`, or one packed tensor whose rows are
    `[q | k | v]` (`num_heads + 2 kv_heads` head vectors), the output of a
    fused QKV projection (`xfmr-fuse-qkv`).

    With `rope_theta` (and optionally `rope_scaling`), q and k are first
    rotated as `xfmr.rotary` would rotate them at their positions
    (`xfmr-fuse-rotary` folds the two rotary ops in): the cache stores the
    rotated keys.
  }];
  let arguments = (ins Variadic<Xfmr_Activation>:$inputs,
                       Arg<Xfmr_KVCacheType, "the cache", [MemRead, MemWrite]>:$cache,
                       Index:$pos, I64Attr:$layer, I64Attr:$num_heads,
                       OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<F64Attr>:$rope_theta,
                       OptionalAttr<Xfmr_RopeScalingAttr>:$rope_scaling,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    `(` $inputs `)` `,` $cache `at` $pos attr-dict `:` `(` type($inputs) `)`
    `,` qualified(type($cache)) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The softmax scale: the attribute, or 1/sqrt(head_dim).
    double getScaleOrDefault();
    /// The rotary inverse frequencies applied to q and k; empty without
    /// rope_theta.
    SmallVector<double> getRopeInverseFrequencies();
    /// One packed [q | k | v] input instead of three.
    bool isPacked() { return getInputs().size() == 1; }
    /// The queries (or the packed input).
    Value getQ() { return getInputs()[0]; }
  }];
}

def Xfmr_AttentionPartialOp : Xfmr_Op<"attention_partial"> {
  let summary = "Attention over one of `splits` ranges of cached positions";
  let description = [{
    The first half of flash-decoding (`xfmr-split-attention`): like
    `xfmr.attention` (appends the new keys and values, same inputs), but the
    cached positions `0 .. pos+t` of row `t` are cut into `splits` equal
    ranges, each its own unit of work, so one head's long context is shared
    by several threads. Row `t` of the result holds, per query head `h` and
    range `s` (at `(h * splits + s) * (head_dim + 2)`), the range's
    unnormalized `sum_j p_j V[j]`, then its running max `m` and sum `l` of
    the online softmax. `xfmr.attention_combine` merges them.
  }];
  let arguments = (ins Variadic<Xfmr_Activation>:$inputs,
                       Arg<Xfmr_KVCacheType, "the cache", [MemRead, MemWrite]>:$cache,
                       Index:$pos, I64Attr:$layer, I64Attr:$num_heads,
                       I64Attr:$splits, OptionalAttr<F64Attr>:$scale,
                       OptionalAttr<F64Attr>:$rope_theta,
                       OptionalAttr<Xfmr_RopeScalingAttr>:$rope_scaling,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = [{
    `(` $inputs `)` `,` $cache `at` $pos attr-dict `:` `(` type($inputs) `)`
    `,` qualified(type($cache)) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    double getScaleOrDefault();
    SmallVector<double> getRopeInverseFrequencies();
    bool isPacked() { return getInputs().size() == 1; }
  }];
}

def Xfmr_AttentionCombineOp : Xfmr_Op<"attention_combine", [Pure]> {
  let summary = "Merges the per-range results of xfmr.attention_partial";
  let description = [{
    Per row and query head: `m = max_s m_s`, `l = sum_s l_s exp(m_s - m)`,
    `out = sum_s acc_s exp(m_s - m) / l`.
  }];
  let arguments = (ins Xfmr_Activation:$partial, I64Attr:$num_heads,
                       I64Attr:$head_dim, I64Attr:$splits,
                       OptionalAttr<Xfmr_ScheduleAttr>:$schedule);
  let results = (outs Xfmr_Activation:$result);
  let assemblyFormat = "$partial attr-dict `:` type($partial) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

def Xfmr_DispatchOp : Xfmr_Op<"dispatch",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Runs an outlined kernel on the given operands";
  let description = [{
    Created by `xfmr-outline-kernels`: every compute op of `@forward` becomes
    a dispatch of a kernel function shared by all ops with the same op name,
    shapes, attributes and schedule. Attributes that differ between
    instances but not in the code (the attention `layer`) stay on the
    dispatch. The compiled model's manifest is this list of dispatches.
  }];
  let arguments = (ins FlatSymbolRefAttr:$kernel, Variadic<AnyType>:$operands);
  let results = (outs Variadic<AnyType>:$results);
  let assemblyFormat = [{
    $kernel `(` $operands `)` attr-dict `:` functional-type($operands, $results)
  }];
}

#endif // XFMR_OPS

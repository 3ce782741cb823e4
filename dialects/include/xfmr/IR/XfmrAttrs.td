//===- XfmrAttrs.td - xfmr attributes ----------------------*- tablegen -*-===//
#ifndef XFMR_ATTRS
#define XFMR_ATTRS

include "xfmr/IR/XfmrDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Xfmr_ScheduleAttr : AttrDef<Xfmr_Dialect, "Schedule"> {
  let mnemonic = "schedule";
  let summary = "The knobs of one kernel: how lowering tiles and splits it";
  let description = [{
    A lowering configuration attached to a compute op. Lowering reads it; the
    `xfmr-assign-schedules` pass writes defaults for the target and the
    autotuner overwrites them with measured winners.

    * `vector_width`: lanes of one SIMD vector (16 = AVX-512 f32).
    * `tile_m`: rows (tokens) of one register tile of a matrix product.
    * `tile_n`: columns of one register tile, a multiple of `vector_width`;
      one tile column-block is also the unit of work split over threads.
    * `unroll`: unroll factor of the innermost reduction loop.
    * `dot`: multiply with the CPU's dot-product instructions instead of
      widening the weights to f32: for int8 and int4 weights the activations
      are quantized on the fly (one scale per 32 reduction elements) and
      AVX-512 VNNI multiplies the codes, stored four reduction elements per
      32-bit lane; for bf16 weights the activations are rounded to bf16 and
      AVX512-BF16 multiplies pairs, stored two reduction elements per lane.
    * `amx` (with `dot`, int8 weights): prefill multiplies tiles of 16 rows
      with AMX (`tdpbsud` on the same weight layout, one 16 x 16 x 32 tile
      product per activation block); decode and leftover rows stay on VNNI.
    * `prefetch`: how far ahead the kernel prefetches the weights it
      streams: bytes of the column block for `xfmr.linear` (default 2048),
      table rows for `xfmr.lm_head` (default 8); 0 turns it off. Left out
      (-1), the kernel's default.
    * `prefetch_to`: where the prefetches of the row that streams the
      weights from memory land (decode's one row): `l1` (the default,
      `prefetcht0`) or `l2` (`prefetcht1`: the streamed weights stop in L2
      and leave L1 to the activations and accumulators). Rows that find the
      weights cached prefetch into L1 either way.

    Example: `#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>`
  }];
  let parameters = (ins "int64_t":$vectorWidth, "int64_t":$tileM,
                        "int64_t":$tileN, "int64_t":$unroll,
                        DefaultValuedParameter<"bool", "false">:$dot,
                        DefaultValuedParameter<"bool", "false">:$amx,
                        DefaultValuedParameter<"int64_t", "-1">:$prefetch,
                        DefaultValuedParameter<"int64_t", "1">:$prefetchTo);
  // `<vector_width = V, tile_m = M, tile_n = N, unroll = U` then, only
  // where they differ from their defaults, `, dot = true`, `, amx = true`,
  // `, prefetch = P`, `, prefetch_to = l2`, in that order (custom: declarative optional groups
  // that start with `,` cannot follow one another).
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Xfmr_QuantAttr : AttrDef<Xfmr_Dialect, "Quant"> {
  let mnemonic = "quant";
  let summary = "How the integers of a quantized weight tensor dequantize";
  let description = [{
    The encoding of a quantized weight tensor. The tensor keeps its logical
    shape; its element type holds the stored integers (`i8`, `i4` or `i6`) and
    this attribute says how to turn them back into reals along the op's
    reduction dimension (`K` of a `[K, N]` linear weight, `D` of a `[V, D]`
    LM-head table):

    * `bits = 8, group = 0`: symmetric, one scale per output channel:
      `w = q * scale[n]`, `q` in [-127, 127].
    * `bits = 8, group = G` (32, 64 or 128): symmetric, one scale per `G`
      consecutive reduction elements (`G = 32`, f16 scales: llama.cpp's
      Q8_0 block), `q` in [-128, 127].
    * `bits = 4, group = G` (32, 64 or 128): one scale per `G` consecutive
      reduction elements of each output channel: `w = (q - zero) * scale`,
      `q` in [0, 15] with `zero_point`, else `q` in [-8, 7] and zero 0.

    `scale` is the type the scales are stored in (f32 or f16).

    `super = 256`: llama.cpp's K-quant super-blocks. The groups' scales (and
    minimums) are small integers times one f16 scale (and one f16 minimum)
    per 256 reduction elements; the two layouts GGUF files hold:

    * `bits = 4, group = 32, super = 256, zero_point = true` (Q4_K): 6-bit
      `sc`, `m` per group, `w = (d sc) q - (dmin m)`, `q` in [0, 15].
    * `bits = 6, group = 16, super = 256` (Q6_K): int8 `sc` per group,
      `w = (d sc) (q - 32)`, `q` in [0, 63].

    ```mlir
    tensor<768x3072xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
    tensor<768x3072xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>
    tensor<768x3072xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>
    tensor<2048x2048xi6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>>
    ```
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$group, "Type":$scale,
                        DefaultValuedParameter<"bool", "false">:$zeroPoint,
                        DefaultValuedParameter<"int64_t", "0">:$superBlock);
  // Custom: `zero_point` and `super` are both optional, and declarative
  // optional groups that start with `,` cannot follow one another.
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the CPU kernels have a dot-product (VNNI) decoder for this
    /// format: every one but Q6_K's 6-bit codes (FMA only, for now).
    bool hasDotKernel() const { return getBits() != 6; }
  }];
}

// An f64 parameter written as a plain number (`factor = 8.0`).
class Xfmr_F64Parameter<string desc, string defaultTo = ""> : APFloatParameter<desc> {
  let parser = [{ ::mlir::xfmr::parseF64Parameter($_parser) }];
  let printer = [{ $_printer.printFloat($_self) }];
  let defaultValue = defaultTo;
}

def Xfmr_RopeScalingAttr : AttrDef<Xfmr_Dialect, "RopeScaling"> {
  let mnemonic = "rope_scaling";
  let summary = "How rotary frequencies are stretched for longer contexts";
  let description = [{
    The `rope_scaling` of a Hugging Face config, applied to the inverse
    frequencies `theta^(-2i/d)` of `xfmr.rotary`:

    * `kind = "linear"`: every frequency divided by `factor` (positions
      interpolated).
    * `kind = "llama3"` (Llama 3.1): wavelengths longer than
      `original_context / low_freq_factor` divided by `factor`, shorter than
      `original_context / high_freq_factor` kept, those between blended.

    ```mlir
    #xfmr.rope_scaling<kind = "llama3", factor = 8.0, low_freq_factor = 1.0,
                       high_freq_factor = 4.0, original_context = 8192>
    ```
  }];
  let parameters = (ins StringRefParameter<"linear or llama3">:$kind,
                        Xfmr_F64Parameter<"">:$factor,
                        Xfmr_F64Parameter<"", "::llvm::APFloat(1.0)">:$low_freq_factor,
                        Xfmr_F64Parameter<"", "::llvm::APFloat(4.0)">:$high_freq_factor,
                        DefaultValuedParameter<"int64_t", "8192">:$original_context);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Xfmr_GatedActivation : I32EnumAttr<"GatedActivation",
    "activation applied to the gate of a gated MLP", [
      I32EnumAttrCase<"silu", 0>,
      I32EnumAttrCase<"gelu", 1>
    ]> {
  let cppNamespace = "::mlir::xfmr";
}

#endif // XFMR_ATTRS

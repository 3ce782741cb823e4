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

    Example: `#xfmr.schedule<vector_width = 16, tile_m = 4, tile_n = 64, unroll = 1>`
  }];
  let parameters = (ins "int64_t":$vectorWidth, "int64_t":$tileM,
                        "int64_t":$tileN, "int64_t":$unroll);
  let assemblyFormat = [{
    `<` `vector_width` `=` $vectorWidth `,` `tile_m` `=` $tileM `,`
        `tile_n` `=` $tileN `,` `unroll` `=` $unroll `>`
  }];
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

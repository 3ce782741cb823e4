//===- XfmrTypes.td - xfmr types ---------------------------*- tablegen -*-===//
#ifndef XFMR_TYPES
#define XFMR_TYPES

include "xfmr/IR/XfmrDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class Xfmr_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Xfmr_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Xfmr_KVCacheType : Xfmr_Type<"KVCache", "kv_cache"> {
  let summary = "Key/value cache of every attention layer";
  let description = [{
    Holds the keys and values of every layer for a fixed context length:
    `!xfmr.kv_cache<layers = L, heads = H, context = C, head_dim = D, f32>`
    (`heads` counts key/value heads).
    In memory it is laid out `[layer][k|v][kv_head][position][head_dim]`, so
    one layer's keys of one head are contiguous and stream in order.
    `kv_heads` may be smaller than an attention's query heads (grouped-query
    attention). The element type is the storage: f32, f16, or i8 with one
    f32 scale per stored head vector (`max|x| / 127`), kept after the codes
    of each layer's keys and of its values.
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$kvHeads,
                        "int64_t":$contextLength, "int64_t":$headDim,
                        "Type":$elementType);
  let assemblyFormat = [{
    `<` `layers` `=` $layers `,` `heads` `=` $kvHeads `,` `context` `=`
    $contextLength `,` `head_dim` `=` $headDim `,` $elementType `>`
  }];
  let genVerifyDecl = 1;
}

#endif // XFMR_TYPES

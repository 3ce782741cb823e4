//===- XfmrDialect.td - the xfmr dialect -------------------*- tablegen -*-===//
//
// The xfmr dialect describes a transformer at the level its engineers think
// in: embeddings, norms, linear layers, attention over a KV cache, MLP
// activations, residual adds and the LM head.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_DIALECT
#define XFMR_DIALECT

include "mlir/IR/OpBase.td"

def Xfmr_Dialect : Dialect {
  let name = "xfmr";
  let cppNamespace = "::mlir::xfmr";
  let summary = "Transformer models at the level of their building blocks";
  let description = [{
    `xfmr` sits one level above upstream MLIR. A model imported from Hugging
    Face (GPT-2 today, the Llama family next) becomes one `func.func @forward`
    whose body is a straight-line chain of `xfmr` ops on tensors:

    ```mlir
    %h = xfmr.embedding %tokens, %wte, %wpe at %pos : ...
    %x = xfmr.layer_norm %h, %g, %b {epsilon = 1.0e-05 : f64} : ...
    %q = xfmr.linear %x, %wq, %bq : ...
    %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 12 : i64} : ...
    ```

    Design rules:

    * **Weights are referenced, never inlined.** `xfmr.weight` names a tensor
      of the model file (optionally a column slice or a transpose of it), so
      the IR of a 124M-parameter model is a few hundred lines.
    * **The sequence dimension is dynamic.** `@forward` processes `n` tokens
      at positions `pos .. pos+n-1`; prefill and decode are the same IR.
    * **The KV cache is a value of type `!xfmr.kv_cache`.** Attention reads
      positions `[0, pos)` of its layer and appends the new keys and values.
    * **Schedules are data.** Every compute op may carry a
      `#xfmr.schedule<...>` attribute (vector width, tiles, thread split);
      lowering reads it, passes and the autotuner write it.
    * **Quantized weight types** come with later passes; a `xfmr.linear`
      weight operand is any ranked tensor, so they slot in without new ops.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

class Xfmr_Op<string mnemonic, list<Trait> traits = []>
    : Op<Xfmr_Dialect, mnemonic, traits>;

#endif // XFMR_DIALECT

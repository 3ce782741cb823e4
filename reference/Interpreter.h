// The oracle that follows the dialect: a float64 interpreter of `xfmr` IR as
// the importer writes it. Any model family the importer can express, and any
// op added to the dialect later, is checked against this one executor rather
// than against a hand-written forward pass per model.
//
// It runs `func.func @forward(%tokens: tensor<?xi32>, %pos: index,
// %cache: !xfmr.kv_cache<...>) -> tensor<?xV>` op by op in float64 and keeps
// the KV cache itself. What the model-level passes did to the module is
// already in the IR and is interpreted as such: pruned layers are absent
// (xfmr-prune-layers), quantized weight types dequantize by their scheme
// (xfmr-quantize-weights), the cache's element type says how keys and values
// are stored (xfmr-kv-cache-precision). Fused (xfmr-fuse-*) and split
// (xfmr-split-attention) IR runs as well, and computes the same numbers.
//
// It depends on the dialect and on the runtime's numerics
// (xfmr/io/quantize.h: the roundings the compiler packs weights with), never
// on the kernel generators: a bug there cannot hide in the oracle.
#ifndef XFMR_REFERENCE_INTERPRETER_H
#define XFMR_REFERENCE_INTERPRETER_H

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <functional>
#include "xfmr/io/quantize.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xfmr::reference {

/// A tensor as the model file stores it, converted to f32, row-major.
struct StoredTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  /// Set when the file holds this 2-D tensor as quantized blocks of an
  /// xfmr scheme along its rows (GGUF's Q8_0, Q4_0): `data` is then their
  /// exact dequantization, which a weight of that type reads as it is.
  std::optional<io::QuantScheme> storedAs;
};

/// The model file: the stored tensor an `xfmr.weight "name"` names, or
/// std::nullopt when the file has none. The interpreter applies the op's
/// view (`columns from N`, `transposed`) and its type's quantization itself,
/// so a loader is only a file reader.
using WeightLoader =
    std::function<std::optional<StoredTensor>(const std::string &name)>;

struct InterpreterOptions {
  /// Round the inputs of matrix products as dot-product kernels do (what
  /// `xfmr compile` does with VNNI or --bf16-dot): a linear with an int8 or
  /// int4 weight, and an LM head with int8 rows or int4 rows in groups of
  /// 32, multiplies its input rounded to int8 per block of 32 reduction
  /// elements (xfmr::io::roundInt8); a linear with bf16 weights its input
  /// rounded to bf16. An op with a #xfmr.schedule follows its `dot`; an op
  /// without one rounds where its reduction length is a multiple of 32.
  bool dotInputRounding = false;
  /// With dotInputRounding: relative noise, uniform in +-jitter, applied to
  /// each rounded input element before rounding. It measures how far the
  /// rounding scheme moves the logits when its inputs move by float32-sized
  /// amounts. The noise is the old hand-written reference's stream (splitmix64 from
  /// the same seed, one draw per rounded element, token by token in program
  /// order, one draw set per distinct rounded input), so bounds measured
  /// with it still hold.
  double activationJitter = 0;
};

/// Logits: one row of the result per token of a call.
using Logits = std::vector<std::vector<double>>;

class Interpreter {
public:
  /// Checks `module` (it must verify, hold @forward with the signature
  /// above, and only ops the interpreter knows) and reads every weight it
  /// names through `load`. On a problem, ok() is false and error() says
  /// what and where. `module` must outlive the interpreter.
  Interpreter(mlir::ModuleOp module, WeightLoader load,
              const InterpreterOptions &options = {});
  ~Interpreter();
  Interpreter(Interpreter &&) noexcept;
  Interpreter &operator=(Interpreter &&) noexcept;

  /// Whether construction succeeded.
  bool ok() const;
  /// The last problem (construction or forward), empty if none.
  const std::string &error() const;

  /// Appends `tokens` at the current position in one call (prefill
  /// semantics: n rows at once, as the runtime's xfmr_prefill) and returns
  /// the result row of each ([n][vocab]). Empty on failure, with error()
  /// set; the position is then unchanged and the next call may retry (the
  /// cache rows the failed call wrote lie past the position, so the next
  /// call overwrites them before any attention reads them). No tokens: no
  /// rows, no error.
  Logits forward(const std::vector<int32_t> &tokens);
  /// Back to position 0: the cache emptied, the jitter stream restarted.
  void reset();

  /// Tokens appended so far.
  int64_t position() const;
  /// Width of @forward's result (the vocabulary).
  int64_t vocab() const;
  /// Positions the KV cache holds.
  int64_t contextLength() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace xfmr::reference

#endif // XFMR_REFERENCE_INTERPRETER_H

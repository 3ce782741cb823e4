// The weights of a Hugging Face model directory: `model.safetensors`, or the
// shards `model.safetensors.index.json` lists (`model-0000N-of-0000M.
// safetensors`), behind one lookup by tensor name. Every shard is opened and
// validated (safetensors.h) before any tensor is read; a shard the index
// names but the directory lacks, a shard name that is not a plain file name,
// or a tensor the index puts in a shard that does not hold it is an error
// naming the index.
#ifndef XFMR_IMPORT_CHECKPOINT_H
#define XFMR_IMPORT_CHECKPOINT_H

#include "xfmr/import/safetensors.h"
#include "xfmr/io/quantize.h"

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace xfmr::io {

/// The tensors of a model source by the name its family gives them
/// (Hugging Face's), whatever the file format: safetensors here (open), a
/// GGUF file through its family's mapping (llama.h).
class Checkpoint {
public:
  /// A tensor: its shape (Hugging Face order), the file that holds it (for
  /// messages), and the implementation's handle.
  struct Tensor {
    std::vector<int64_t> shape;
    std::string path;
    const void *source = nullptr;
  };
  /// Real indexes are a few hundred kilobytes; a model has at most this many
  /// shards.
  static constexpr int64_t kMaxIndexBytes = 16 << 20;
  static constexpr size_t kMaxShards = 4096;
  /// DIR/model.safetensors, or the shards DIR/model.safetensors.index.json
  /// lists.
  static std::unique_ptr<Checkpoint> open(const std::string &dir, std::string *error);
  virtual ~Checkpoint() = default;
  /// nullptr when no file holds `name`.
  const Tensor *find(const std::string &name) const;
  /// The tensor as f32, row-major in its shape.
  virtual std::vector<float> toF32(const Tensor &t) const = 0;
  /// The xfmr weight scheme a 2-D tensor is stored in, when its file holds
  /// quantized blocks that are such a scheme as they are (GGUF's Q8_0: int8
  /// in groups of 32 with f16 scales; Q4_0: int4 symmetric, groups of 32,
  /// f16 scales; Q4_K, Q6_K: their super-block schemes, quantize.h). Groups run along the last dimension (a linear's input, a
  /// table row). The compiler types such a weight with it and packs the
  /// file's own codes and scales (storedGroup), never rounding them again;
  /// toF32 gives their exact dequantized values.
  virtual std::optional<QuantScheme> storedScheme(const Tensor &t) const {
    return std::nullopt;
  }
  /// Group `g` of row `row` (in this checkpoint's row order, Hugging
  /// Face's) of a tensor with a stored scheme: the file's codes (int4: 0..15
  /// with min = -8 scale) and scale. False when there is no such group.
  virtual bool storedGroup(const Tensor &t, int64_t row, int64_t g, QuantGroup &out) const {
    return false;
  }
  /// Data bytes of all files: what the tensors a config declares must fit in.
  virtual uint64_t dataBytes() const = 0;
  /// The fewest bytes a value of this source can take (F16: 2; GGUF's
  /// Q4_0: 18 per 32): a config's sizes are checked against it first.
  virtual double minBytesPerValue() const { return 2; }
  /// Values of all tensors.
  int64_t values() const;
  /// Files the checkpoint is read from (shards).
  size_t fileCount() const { return fileCount_; }
  /// What to name in an error about a missing tensor: the file, or the index.
  const std::string &describe() const { return describe_; }

protected:
  std::unordered_map<std::string, Tensor> tensors_;
  std::string describe_;
  size_t fileCount_ = 0;
};

} // namespace xfmr::io

#endif

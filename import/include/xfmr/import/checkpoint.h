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

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace xfmr::io {

class Checkpoint {
public:
  /// A tensor and the file that holds it.
  struct Tensor {
    const SafeTensors *file;
    const TensorInfo *info;
  };
  /// Real indexes are a few hundred kilobytes; a model has at most this many
  /// shards.
  static constexpr int64_t kMaxIndexBytes = 16 << 20;
  static constexpr size_t kMaxShards = 4096;

  static std::unique_ptr<Checkpoint> open(const std::string &dir, std::string *error);

  /// nullptr when no shard holds `name`.
  const Tensor *find(const std::string &name) const;
  std::vector<float> toF32(const Tensor &t) const { return t.file->toF32(*t.info); }
  /// Data bytes of all shards: what the tensors a config declares must fit in.
  uint64_t dataBytes() const;
  /// What to name in an error about a missing tensor: the file, or the index.
  const std::string &describe() const { return describe_; }
  const std::vector<std::unique_ptr<SafeTensors>> &files() const { return files_; }

private:
  std::vector<std::unique_ptr<SafeTensors>> files_;
  std::unordered_map<std::string, Tensor> tensors_;
  std::string describe_;
};

} // namespace xfmr::io

#endif

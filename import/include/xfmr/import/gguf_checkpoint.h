// A GGUF file's tensors as a Checkpoint: under the names and in the row
// order of the family's Hugging Face checkpoints, whatever the family.
// Shapes are ne reversed (a linear's ne = {in, out} reads as PyTorch's
// [out, in]); a family whose converter permuted some rows (llama.cpp's q/k
// rows for its rotary) names the head size to undo it with.
#ifndef XFMR_IMPORT_GGUF_CHECKPOINT_H
#define XFMR_IMPORT_GGUF_CHECKPOINT_H

#include "xfmr/import/checkpoint.h"
#include "xfmr/import/gguf.h"

#include <functional>
#include <memory>
#include <string>

namespace xfmr::io {

/// How a family reads one GGUF tensor: the Hugging Face name it stands for
/// ("" for a tensor the family does not use), and the head size its rows
/// were permuted by (0: rows as stored).
struct GGUFTensorMapping {
  std::string name;
  int64_t permuteHeadDim = 0;
};
using GGUFNameMap = std::function<GGUFTensorMapping(const GGUFTensorInfo &)>;

/// The checkpoint of `f` under `map`; nullptr with a one-line *error naming
/// the file and tensor when a mapped tensor is of a type xfmr does not read.
std::unique_ptr<Checkpoint> openGGUFCheckpoint(std::unique_ptr<GGUFFile> f,
                                               const GGUFNameMap &map, std::string *error);

/// llama.cpp's converter's q/k row permutation: the Hugging Face row a
/// GGUF row holds, and its inverse.
int64_t hfRowOfGGUFRow(int64_t row, int64_t headDim);
int64_t ggufRowOfHFRow(int64_t row, int64_t headDim);

} // namespace xfmr::io

#endif

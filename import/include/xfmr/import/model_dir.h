// A Hugging Face model directory, opened by the family its config.json's
// `model_type` names: the config read by that family's schema (every number
// bounded, contradictions refused), the checkpoint (single or sharded), and
// every tensor the config implies checked against it, before anything is
// imported. Families register in model_dir.cpp's table; the IR importers
// (Importer.h) dispatch on the same kind.
#ifndef XFMR_IMPORT_MODEL_DIR_H
#define XFMR_IMPORT_MODEL_DIR_H

#include "xfmr/import/checkpoint.h"
#include "xfmr/import/config_json.h"

#include "llvm/Support/Casting.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::io {

/// The sizes every family has, for the driver (context, vocabulary) and the
/// tools that print them.
struct ModelShape {
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t context = 0, vocab = 0;
  int64_t bos = -1, eos = -1; // -1: none
};

/// Names and shapes of the tensors a config implies, in file order.
using TensorList = std::vector<std::pair<std::string, std::vector<int64_t>>>;

class ModelDir {
public:
  enum class Family { GPT2, Llama };

  /// Reads DIR/config.json, picks the family by model_type, and opens and
  /// checks the checkpoint; or, given a file, reads it as GGUF and picks the
  /// family by general.architecture. nullptr and a one-line *error on
  /// failure.
  static std::unique_ptr<ModelDir> open(const std::string &dir, std::string *error);
  /// The model_type values families accept ("gpt2, llama, mistral, qwen2").
  static std::string knownModelTypes();

  virtual ~ModelDir() = default;
  Family family() const { return family_; }
  /// The directory, or the GGUF file.
  const std::string &dir() const { return dir_; }
  /// Where the config was read: DIR/config.json, or the GGUF file.
  const std::string &configPath() const { return configPath_; }
  const std::string &modelType() const { return modelType_; }
  const ModelShape &shape() const { return shape_; }
  const Checkpoint &checkpoint() const { return *checkpoint_; }
  /// The file's name of a tensor the family names canonically (GPT-2
  /// checkpoints may prefix every name with "transformer.").
  std::string fileName(const std::string &canonical) const { return prefix_ + canonical; }
  /// A tensor by canonical name, as f32 (it was checked at open).
  std::vector<float> load(const std::string &canonical) const;
  /// Tokenizer files made from the source at open (a GGUF file's
  /// tokenizer.ggml.* metadata), name and contents; empty when the
  /// tokenizer, if any, is dir()'s own files.
  const std::vector<std::pair<std::string, std::string>> &tokenizerFiles() const {
    return tokenizerFiles_;
  }

protected:
  explicit ModelDir(Family f) : family_(f) {}
  /// Checks that every tensor of `expected` (canonical names) is in the
  /// checkpoint with that shape: the first one (the token embedding, which
  /// names the widths) before the rest, then that the values the config
  /// declares fit in the files (2 bytes each at least), then each tensor.
  bool checkTensors(const TensorList &expected, std::string *error) const;

  Family family_;
  std::string dir_, configPath_, modelType_, prefix_;
  ModelShape shape_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::vector<std::pair<std::string, std::string>> tokenizerFiles_;
};

/// "[2048,64]".
std::string shapeString(const std::vector<int64_t> &s);

} // namespace xfmr::io

#endif

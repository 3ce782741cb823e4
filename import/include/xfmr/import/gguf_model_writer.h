//===- gguf_model_writer.h - what every family's GGUF writer shares -*- C++ -*-===//
//
// xfmr export-gguf writes a model directory as llama.cpp's converter would,
// one writer per family (writeLlamaGGUF, writeGPT2GGUF) for the names,
// shapes and config keys. What does not depend on the family is here: the
// tensor types that can be written (whatever encodeGGML makes, asked of it,
// so a block type added there is written by every family and offered by
// --type without changes here), each tensor encoded as llama.cpp keeps it,
// and the tokenizer as tokenizer.ggml.* metadata.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_IMPORT_GGUF_MODEL_WRITER_H
#define XFMR_IMPORT_GGUF_MODEL_WRITER_H

#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::io {

class ModelDir;

/// The tensor types encodeGGML writes, in type-number order.
std::vector<GGMLType> ggmlWrittenTypes();
/// Their names in lower case, as --type takes them: "f32, f16, q4_0, q8_0".
std::string ggmlWrittenTypeNames();
/// A written type by its name in lower case ("q8_0"); nullopt otherwise.
std::optional<GGMLType> ggmlWrittenType(const std::string &name);

/// `x`, a tensor of PyTorch shape `shape` (row-major), as GGUF tensor
/// `name` (ne = the shape reversed): a matrix in `type`, a vector in F32
/// as llama.cpp keeps norms and biases. False with *error naming the
/// tensor when encodeGGML does not write `type` or a row is not whole
/// blocks of it.
bool ggufTensorOf(const std::string &name, const std::vector<int64_t> &shape,
                  const std::vector<float> &x, GGMLType type, GGUFTensorData *out,
                  std::string *error);

/// The tokenizer of `m` as tokenizer.ggml.* entries: the files made at
/// open (a GGUF source), else m.dir()'s tokenizer.json (+
/// tokenizer_config.json), else GPT-2's vocab.json + merges.txt; true and
/// no entries when the directory has no tokenizer.
bool ggufTokenizerOf(const ModelDir &m, int64_t vocab, GGUFTokenizerMetadata *out,
                     std::string *error);

/// tokenizer.ggml.bos_token_id / eos_token_id: the tokenizer's ids when it
/// names them (tokenizer_config.json, as llama.cpp's converter prefers),
/// else the model config's; only ids of the vocabulary are written.
void appendSpecialTokenIds(const GGUFTokenizerMetadata &tok, int64_t configBos,
                           int64_t configEos, int64_t vocab,
                           std::vector<std::pair<std::string, GGUFValue>> *kv);

} // namespace xfmr::io

#endif

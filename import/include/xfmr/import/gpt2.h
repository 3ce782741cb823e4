// The GPT-2 family: its config.json schema, the tensors it implies, and a
// writer of random GPT-2 models in the Hugging Face layout.
#ifndef XFMR_IMPORT_GPT2_H
#define XFMR_IMPORT_GPT2_H

#include "xfmr/import/model_dir.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xfmr::io {

struct GPT2Config {
  int64_t nLayer = 12, nEmbd = 768, nHead = 12, nCtx = 1024, vocab = 50257;
  double epsilon = 1e-5;
  int64_t eosToken = 50256;
  int64_t bosToken = -1; // -1: none (config.json's bos_token_id when it has one)
};

/// Reads GPT-2's fields from a config.json: the sizes, each bounded, and the
/// optional fields GPT-2 checkpoints carry. False with config.error() set
/// (one line naming the file and field) on anything else.
bool parseGPT2Config(ConfigJson &config, GPT2Config &c);
/// The same on the text of a config.json (fuzzing). Never throws.
bool parseGPT2Config(const std::string &text, const std::string &pathForErrors,
                     GPT2Config &c, std::string *error);

class GGUFFile;
enum class GGMLType : uint32_t;

/// How a GPT-2 source stores what Hugging Face's checkpoints store one way.
struct GPT2Layout {
  /// The linears' weights as nn.Linear's [out, in] (GGUF: llama.cpp's
  /// converter transposes Conv1D's [in, out]); the importer reads them as
  /// transposed views.
  bool linearsOutIn = false;
  /// An LM head of its own, lm_head.weight [V, E] (a GGUF's output.weight),
  /// rather than the embedding table.
  bool untiedHead = false;
};

class GPT2Model : public ModelDir {
public:
  /// Opens the model of `dir` whose config.json is `config`.
  static std::unique_ptr<ModelDir> open(const std::string &dir, ConfigJson &config,
                                        std::string *error);
  /// Opens a GGUF file of architecture "gpt2" (gpt2_gguf.cpp): the config
  /// from gpt2.* metadata, the tokenizer from tokenizer.ggml.*, the tensors
  /// under their Hugging Face names in the GGUF layout.
  static std::unique_ptr<ModelDir> openGGUF(std::unique_ptr<GGUFFile> f, std::string *error);
  const GPT2Config &config() const { return config_; }
  const GPT2Layout &layout() const { return layout_; }
  /// Canonical names and shapes of every tensor a GPT-2 of `c` has, stored
  /// as `layout` says.
  static TensorList expectedTensors(const GPT2Config &c, const GPT2Layout &layout = {});
  static bool classof(const ModelDir *m) { return m->family() == Family::GPT2; }

private:
  GPT2Model() : ModelDir(Family::GPT2) {}
  GPT2Config config_;
  GPT2Layout layout_;
};

/// Reads a GPT2Config from a GGUF file's metadata as llama.cpp's converter
/// writes it (general.architecture "gpt2"; gpt2.block_count,
/// .context_length, .embedding_length, .feed_forward_length (4 x the
/// embedding, the only MLP GPT-2 has), .attention.head_count,
/// .attention.layer_norm_epsilon; the vocabulary from the token list or
/// token_embd's rows; bos/eos from tokenizer.ggml.*), each checked and
/// bounded; false with *error naming the file and key.
bool gpt2ConfigFromGGUF(const GGUFFile &f, GPT2Config &c, std::string *error);

/// The Hugging Face name of a gpt2-architecture GGUF tensor
/// ("blk.3.attn_qkv.weight" -> "h.3.attn.c_attn.weight", "output.weight" ->
/// "lm_head.weight"), or "" for a name outside the family; and back ("" for
/// a name without a GGUF tensor).
std::string gpt2NameFromGGUF(const std::string &ggufName);
std::string ggufNameFromGPT2(const std::string &hfName);

/// Writes `m` as a GGUF file as llama.cpp's converter writes GPT-2 (its
/// keys and names, the linears transposed to [out, in], the tokenizer of
/// the directory's tokenizer.json or vocab.json + merges.txt), matrices in
/// `type` (any of ggmlWrittenTypes()), vectors F32. For tests and `xfmr
/// export-gguf`.
bool writeGPT2GGUF(const GPT2Model &m, const std::string &path, GGMLType type,
                   std::string *error);

/// How a synthetic model file is written: tests use the variants real
/// checkpoints come in.
struct RandomModelFormat {
  DType dtype = DType::F32;
  std::string prefix;           // e.g. "transformer."
  bool attentionBuffers = false; // add attn.bias / attn.masked_bias as real checkpoints do
};

/// Writes a GPT-2 with random weights (N(0, 0.02), norm gains 1) in the
/// Hugging Face layout: config.json + model.safetensors. The draw order
/// and generator match ../shared/tools/make_gpt2_weights.cpp, so the same
/// seed gives the same numbers.
bool writeRandomGPT2(const std::string &dir, const GPT2Config &c,
                     unsigned seed, std::string *error,
                     const RandomModelFormat &format = {});

} // namespace xfmr::io

#endif

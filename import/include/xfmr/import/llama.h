// The Llama family (model_type llama, mistral, qwen2): its config.json
// schema, the tensors it implies, and a writer of random Llama-shaped models
// in the Hugging Face layout.
//
// What differs between the three is read from the config, not from the
// name: grouped-query attention (`num_key_value_heads`), `head_dim`, rope
// theta and scaling, tied embeddings, q/k/v biases (Qwen2 always; Llama's
// `attention_bias` adds the output projection's too), Mistral's sliding
// window (refused when the compiled context exceeds it, where it would
// change the result).
#ifndef XFMR_IMPORT_LLAMA_H
#define XFMR_IMPORT_LLAMA_H

#include "xfmr/import/model_dir.h"

#include <cstdint>
#include <memory>
#include <string>

namespace xfmr::io {

/// rope_scaling of the config: how the rotary frequencies are stretched
/// for contexts longer than training's.
struct RopeScaling {
  enum class Kind { None, Linear, Llama3 };
  Kind kind = Kind::None;
  double factor = 1;
  // llama3 only (Llama 3.1's defaults).
  double lowFreqFactor = 1, highFreqFactor = 4;
  int64_t originalContext = 8192;
};

struct LlamaConfig {
  std::string modelType = "llama"; // llama, mistral or qwen2
  int64_t layers = 22, hidden = 2048, intermediate = 5632, heads = 32, kvHeads = 4;
  int64_t headDim = 64, context = 2048, vocab = 32000;
  double rmsEpsilon = 1e-5, ropeTheta = 10000;
  RopeScaling ropeScaling;
  bool tieEmbeddings = false;
  bool qkvBias = false, outputBias = false;
  int64_t slidingWindow = 0; // 0: none
  int64_t bos = 1, eos = 2;  // -1: none
};

/// Reads the fields above from a config.json whose model_type is one of the
/// family's; false with config.error() set on a missing, out-of-range or
/// contradictory field, or a feature the compiler does not implement
/// (another rope scaling, another activation, MLP biases).
bool parseLlamaConfig(ConfigJson &config, LlamaConfig &c);

class GGUFFile;

class LlamaModel : public ModelDir {
public:
  static std::unique_ptr<ModelDir> open(const std::string &dir, ConfigJson &config,
                                        std::string *error);
  /// A llama or qwen2 GGUF file (llama_gguf.cpp): config from its metadata,
  /// tensors under their Hugging Face names.
  static std::unique_ptr<ModelDir> openGGUF(std::unique_ptr<GGUFFile> f, std::string *error);
  const LlamaConfig &config() const { return config_; }
  /// Hugging Face names and shapes of every tensor a model of `c` has
  /// (linear weights `[out, in]`, as nn.Linear stores them).
  static TensorList expectedTensors(const LlamaConfig &c);
  static bool classof(const ModelDir *m) { return m->family() == Family::Llama; }

private:
  LlamaModel() : ModelDir(Family::Llama) {}
  LlamaConfig config_;
};

/// Reads a LlamaConfig from a GGUF file's metadata (general.architecture
/// llama or qwen2, then "<arch>.block_count", "<arch>.attention.head_count_kv",
/// "<arch>.rope.freq_base", ...; tied embeddings when there is no
/// output.weight, biases when the tensors exist); false with *error naming
/// the file and key. llama3 rope scaling (llama.cpp's rope_freqs.weight),
/// YaRN and partial rotary are refused by name.
bool llamaConfigFromGGUF(const GGUFFile &f, LlamaConfig &c, std::string *error);

/// The Hugging Face name of a llama-architecture GGUF tensor
/// ("blk.3.ffn_gate.weight" -> "model.layers.3.mlp.gate_proj.weight"), or
/// "" for a name outside the family.
std::string llamaNameFromGGUF(const std::string &ggufName);

enum class GGMLType : uint32_t;

/// Writes `m` as a GGUF file as llama.cpp's converter would (its metadata
/// keys and tensor names, q/k rows permuted for its rotary), matrices in
/// `type` (any of ggmlWrittenTypes(): F32, F16, Q8_0, Q4_0, Q4_K, Q6_K),
/// vectors F32. For tests and `xfmr export-gguf`.
bool writeLlamaGGUF(const LlamaModel &m, const std::string &path, GGMLType type,
                    std::string *error);

/// How writeRandomLlama stores the model.
struct RandomLlamaFormat {
  DType dtype = DType::F16;
  int64_t shards = 1; // > 1: model-0000N-of-0000M.safetensors + index
};

/// Writes a Llama-family model with random weights (N(0, 0.02), norm gains
/// 1; a fixed generator, so a seed gives the same numbers) in the Hugging
/// Face layout: config.json + model.safetensors (or shards). Tensors are
/// generated one at a time: a 1.1B-parameter model never sits in memory as
/// f32.
bool writeRandomLlama(const std::string &dir, const LlamaConfig &c, unsigned seed,
                      std::string *error, const RandomLlamaFormat &format = {});

} // namespace xfmr::io

#endif

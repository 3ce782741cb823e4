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
};

/// Reads GPT-2's fields from a config.json: the sizes, each bounded, and the
/// optional fields GPT-2 checkpoints carry. False with config.error() set
/// (one line naming the file and field) on anything else.
bool parseGPT2Config(ConfigJson &config, GPT2Config &c);
/// The same on the text of a config.json (fuzzing). Never throws.
bool parseGPT2Config(const std::string &text, const std::string &pathForErrors,
                     GPT2Config &c, std::string *error);

class GPT2Model : public ModelDir {
public:
  /// Opens the model of `dir` whose config.json is `config`.
  static std::unique_ptr<ModelDir> open(const std::string &dir, ConfigJson &config,
                                        std::string *error);
  const GPT2Config &config() const { return config_; }
  /// Canonical names and shapes of every tensor a GPT-2 of `c` has.
  static TensorList expectedTensors(const GPT2Config &c);
  static bool classof(const ModelDir *m) { return m->family() == Family::GPT2; }

private:
  GPT2Model() : ModelDir(Family::GPT2) {}
  GPT2Config config_;
};

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

// A Hugging Face GPT-2 model directory: config.json + model.safetensors,
// checked against each other before anything reads a weight.
#ifndef XFMR_IO_GPT2_H
#define XFMR_IO_GPT2_H

#include "xfmr/io/safetensors.h"

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

/// Parses the text of a config.json (at most 1 MiB when read from a file;
/// nesting bounded before parsing) into `c`: the sizes, each bounded, and
/// the optional fields GPT-2 checkpoints carry. False and a one-line *error
/// naming `pathForErrors` on anything else. Never throws.
bool parseGPT2Config(const std::string &text, const std::string &pathForErrors,
                     GPT2Config &c, std::string *error);

class GPT2Files {
public:
  /// Opens and validates DIR; nullptr and a one-line *error on failure.
  static std::unique_ptr<GPT2Files> open(const std::string &dir,
                                         std::string *error);
  const GPT2Config &config() const { return config_; }
  const SafeTensors &tensors() const { return *st_; }
  /// A tensor by its canonical name ("h.0.ln_1.weight"), as f32.
  std::vector<float> load(const std::string &canonical) const;
  /// The file's name of a canonical tensor name (with any prefix).
  std::string fileName(const std::string &canonical) const {
    return prefix_ + canonical;
  }
  /// Canonical names and shapes of every tensor a GPT-2 of `c` has.
  static std::vector<std::pair<std::string, std::vector<int64_t>>>
  expectedTensors(const GPT2Config &c);

private:
  GPT2Config config_;
  std::unique_ptr<SafeTensors> st_;
  std::string prefix_;
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

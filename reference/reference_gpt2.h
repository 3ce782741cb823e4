// The oracle: a plain GPT-2 forward pass in float64, straight from the
// Hugging Face weights, written for obviousness, not speed. Tests compare
// compiled models against it.
#ifndef XFMR_REFERENCE_GPT2_H
#define XFMR_REFERENCE_GPT2_H

#include "xfmr/import/gpt2.h"
#include "xfmr/io/quantize.h"

#include <string>

#include <cstdint>
#include <vector>

namespace xfmr::reference {

/// What the compiled model was told to do to the weights, so the reference
/// computes the same function.
struct ReferenceOptions {
  std::vector<int64_t> dropped;   // blocks skipped (xfmr-prune-layers)
  io::QuantScheme scheme;         // matrices quantize-dequantized this way
  std::vector<std::string> keep;  // as xfmr-quantize-weights' exclude list
  std::string kvPrecision = "f32"; // f32, f16 or int8 (per head vector)
  /// Quantized linear weights multiplied with dot-product instructions
  /// (int8/int4: VNNI, also the int8 LM head; bf16: AVX512-BF16): their
  /// inputs rounded as the kernels do (int8 per block of 32, or to bf16).
  bool int8Activations = false;
  /// Relative noise (uniform in +-jitter, fixed seed) added to each
  /// activation before it is rounded. Measures how far the rounding scheme
  /// itself moves the logits when its inputs move by float32-sized amounts,
  /// which bounds how closely any float32 kernel can follow a float64
  /// reference through it.
  double activationJitter = 0;
};

class ReferenceGPT2 {
public:
  explicit ReferenceGPT2(const io::GPT2Model &files,
                         const ReferenceOptions &options = {});
  /// Appends tokens to the cache; returns the logits of each ([n][vocab]).
  std::vector<std::vector<double>> forward(const std::vector<int32_t> &tokens);
  void reset() { pos_ = 0; }
  const io::GPT2Config &config() const { return c_; }

private:
  using Vec = std::vector<double>;
  struct Layer {
    Vec ln1g, ln1b, attnW, attnB, projW, projB, ln2g, ln2b, fcW, fcB, fc2W, fc2B;
    bool quantAttn = false, quantProj = false, quantFc = false, quantFc2 = false;
  };
  Vec layerNorm(const Vec &x, const Vec &g, const Vec &b) const;
  /// y = x W + b with W stored [in][out] (GPT-2's Conv1D).
  Vec linear(const Vec &x, const Vec &w, const Vec &b, int64_t out,
             bool quantizeInput = false);
  std::vector<double> step(int32_t token);

  io::GPT2Config c_;
  Vec wte_, wteHead_, wpe_, lnfg_, lnfb_; // wteHead_: the LM head's copy
  std::vector<Layer> layers_;
  std::vector<bool> dropped_;
  std::string kvPrecision_;
  bool quantHead_ = false, bf16Acts_ = false;
  /// Rounds a linear's input as its dot-product kernel does: int8 per block
  /// of 32 (VNNI), or to bf16 (AVX512-BF16).
  void roundActivations(Vec &x);
  double jitter_ = 0;
  uint64_t jitterState_ = 0x9e3779b97f4a7c15ull;
  /// Rounds one head vector as the KV cache stores it.
  void storeRounded(double *x, int64_t n) const;
  std::vector<Vec> kCache_, vCache_; // per layer: [pos][n_embd]
  int64_t pos_ = 0;
};

} // namespace xfmr::reference

#endif

// The small random-model shapes the end-to-end and reference tests share,
// so that a case named "small" means one shape everywhere.
#ifndef XFMR_TEST_SUPPORT_SMALL_MODELS_H
#define XFMR_TEST_SUPPORT_SMALL_MODELS_H

#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"

namespace xfmr::test {

/// Two layers, 64 wide, 4 heads.
inline io::GPT2Config smallGPT2() {
  io::GPT2Config c;
  c.nLayer = 2;
  c.nEmbd = 64;
  c.nHead = 4;
  c.nCtx = 64;
  c.vocab = 512;
  return c;
}

inline io::GPT2Config fourLayerGPT2() {
  io::GPT2Config c = smallGPT2();
  c.nLayer = 4;
  return c;
}

/// Widths that are not multiples of 16.
inline io::GPT2Config oddGPT2() {
  io::GPT2Config c;
  c.nLayer = 1;
  c.nEmbd = 24;
  c.nHead = 3;
  c.nCtx = 40;
  c.vocab = 97;
  return c;
}

/// Two layers, GQA (4 query heads over 2 kv heads), head_dim 16 (the rotary
/// partner half is a shuffle within a vector), untied head.
inline io::LlamaConfig tinyLlama() {
  io::LlamaConfig c;
  c.layers = 2;
  c.hidden = 64;
  c.intermediate = 96;
  c.heads = 4;
  c.kvHeads = 2;
  c.headDim = 16;
  c.context = 64;
  c.vocab = 256;
  return c;
}

} // namespace xfmr::test

#endif

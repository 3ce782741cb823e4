// libFuzzer target: the text of a GPT-2 config.json (parseGPT2Config, what
// GPT2Model::open runs on the file it reads). An accepted config must obey
// the bounds the parser promises, and its tensor table (expectedTensors)
// is then built from it. Seeds: make_corpus.sh (init-model configs) and
// seeds/fuzz_config/.
#include "xfmr/import/gpt2.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  xfmr::io::GPT2Config c;
  if (!xfmr::io::parseGPT2Config(text, "config.json", c, &error)) {
    if (error.empty())
      std::abort();
    return 0;
  }
  // The bounds parseGPT2Config documents (gpt2.cpp's kConfigFields).
  if (c.nLayer < 1 || c.nLayer > 1024 || c.nEmbd < 1 || c.nEmbd > (1 << 16) ||
      c.nHead < 1 || c.nHead > 1024 || c.nCtx < 1 || c.nCtx > (1 << 20) || c.vocab < 1 ||
      c.vocab > (1 << 24) || c.nEmbd % c.nHead != 0 || !(c.epsilon > 0 && c.epsilon < 1) ||
      c.eosToken < 0 || c.eosToken > (int64_t(1) << 31))
    std::abort(); // eos_token_id: any id up to 2^31 (only recorded, never an index)
  auto tensors = xfmr::io::GPT2Model::expectedTensors(c);
  if (tensors.size() != size_t(12 * c.nLayer + 4))
    std::abort();
  return 0;
}

// Normalizers of tokenizer.json that xfmr implements: Prepend, Replace of a
// literal string, NFC, and a Sequence of them. They run on each run of text
// between added tokens, before pre-tokenization, as in Hugging Face's.
#ifndef XFMR_RUNTIME_TOKENIZER_NORMALIZE_H
#define XFMR_RUNTIME_TOKENIZER_NORMALIZE_H

#include <string>
#include <string_view>
#include <vector>

namespace xfmr::tok {

struct NormalizeStep {
  enum Kind {
    Prepend, // `text` before a non-empty input (SentencePiece's leading "▁")
    Replace, // every `from` (a non-empty literal) by `text`, left to right
    Nfc,     // Unicode Normalization Form C (Qwen)
  } kind;
  std::string from, text;
};

std::string normalize(const std::vector<NormalizeStep> &steps, std::string_view input);

/// s with every `from` (non-empty) replaced by `to`, left to right.
std::string replaceAll(std::string_view s, std::string_view from, std::string_view to);

} // namespace xfmr::tok

#endif

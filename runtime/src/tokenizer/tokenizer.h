// The tokenizer as loaded: Hugging Face's pipeline (added tokens ->
// normalizer -> pre-tokenizer -> BPE -> post-processor; decoder), which
// GPT-2's vocab.json + merges.txt also fill in (gpt2_files.cpp), as does
// tokenizer.json (hf_json.cpp).
#ifndef XFMR_RUNTIME_TOKENIZER_TOKENIZER_H
#define XFMR_RUNTIME_TOKENIZER_TOKENIZER_H

#include "added_tokens.h"
#include "bpe.h"
#include "decoder.h"
#include "normalize.h"
#include "pretokenize.h"
#include "xfmr/runtime.h"

#include <cstdint>
#include <string>
#include <vector>

struct xfmr_tokenizer {
  xfmr::tok::BpeModel model;
  std::vector<xfmr::tok::NormalizeStep> normalizer;
  std::vector<xfmr::tok::PreTokenizeStep> preTokenizer;
  /// Added tokens matched in the input, and those matched after
  /// normalization (normalized: true), their content normalized.
  xfmr::tok::AddedTokenMatcher added, addedNormalized;
  /// What XFMR_TOKENIZE_NO_SPECIAL leaves out: the ids put before and
  /// after the text (BOS, EOS).
  std::vector<int32_t> prefix, suffix;
  int32_t bos = -1, eos = -1;

  std::vector<std::string> bytesOf; // id -> the bytes it decodes to
  std::vector<uint8_t> special;     // id -> 1 for a special token
  xfmr::tok::DecoderSpec decoder;
  bool cleanUpSpaces = false;       // tokenizer_config.json's clean_up_tokenization_spaces

  int32_t vocabSize() const { return int32_t(bytesOf.size()); }
};

struct xfmr_detokenizer {
  const xfmr_tokenizer *tok;
  unsigned flags;
  xfmr::tok::Utf8Assembler utf8;
  int32_t stripLeft; // code points the start may still lose
  std::string out;   // what the last call returned
};

#endif

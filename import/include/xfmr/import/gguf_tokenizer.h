//===- gguf_tokenizer.h - a GGUF file's tokenizer as Hugging Face files ---*- C++ -*-===//
//
// llama.cpp keeps a model's tokenizer in GGUF metadata (tokenizer.ggml.*):
// the token texts, their types and scores, merges, bos/eos and whether
// they are added, and the name of a pre-tokenizer. The runtime knows
// nothing of GGUF; it reads Hugging Face's tokenizer.json and
// tokenizer_config.json. So the compiler turns the metadata into those two
// files, the inverse of what llama.cpp's convert_hf_to_gguf.py does:
//
//   tokenizer.ggml.model "llama": SentencePiece-style BPE with byte
//     fallback, as Llama 2's tokenizer.json has it. There are no merges in
//     the file; they are the SentencePiece scores read back the way
//     Hugging Face's converter reads them (mergesFromScores).
//   tokenizer.ggml.model "gpt2": byte-level BPE with tokenizer.ggml.merges
//     and the split regex tokenizer.ggml.pre names (kGGUFPreTokenizers).
//
// Token types: control and unknown tokens become special added tokens,
// user-defined ones plain added tokens (matched in the raw text, as
// llama.cpp matches them), byte tokens <0xNN> the byte fallback's, and
// trailing unused tokens (llama.cpp's [PADn] padding) are left out.
//
// The writer goes the other way, for xfmr export-gguf, and refuses a
// tokenizer.json the metadata could not give back exactly.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_IMPORT_GGUF_TOKENIZER_H
#define XFMR_IMPORT_GGUF_TOKENIZER_H

#include "xfmr/import/gguf.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xfmr::io {

/// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class GGUFTokenType : int32_t {
  Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6,
};

/// A byte-level pre-tokenizer by its tokenizer.ggml.pre name: the split
/// regex of the Hugging Face file it stands for ("" for GPT-2's, which
/// ByteLevel applies itself), whether that file normalizes to NFC and
/// whether its BPE takes a whole word that is a token (ignore_merges).
struct GGUFPreTokenizer {
  const char *name;
  const char *regex;
  bool nfc, ignoreMerges;
};
/// The names xfmr knows; the writer uses the first of each regex.
extern const GGUFPreTokenizer kGGUFPreTokenizers[];
extern const size_t kGGUFPreTokenizerCount;
/// nullptr for a name not in the table.
const GGUFPreTokenizer *ggufPreTokenizer(const std::string &name);
/// "gpt-2, llama-bpe, ...", for messages.
std::string ggufPreTokenizerNames();

/// {left, right, result} token ids.
using Merge = std::array<int32_t, 3>;

/// SentencePiece merges from scores, as Hugging Face's converter makes
/// them: every split of a token that may be a result (`result[i]`) into two
/// tokens of `tokens` is a merge, ranked by the result's score, highest
/// first (ties: the result's id, then the parts' ids). `tokens` must be
/// distinct. O(total bytes of the tokens): two tries find each token's
/// prefixes and suffixes that are tokens.
std::vector<Merge> mergesFromScores(const std::vector<std::string> &tokens,
                                    const std::vector<float> &scores,
                                    const std::vector<bool> &result);

/// Files by name ("tokenizer.json", "tokenizer_config.json") and contents.
using TokenizerFiles = std::vector<std::pair<std::string, std::string>>;

/// The Hugging Face files equivalent to `f`'s tokenizer metadata; an empty
/// *out (and true) when `f` has none (no tokenizer.ggml.model, or "none").
/// False with one line naming the file and the key when the metadata is
/// malformed or of a kind xfmr does not implement.
bool tokenizerFilesFromGGUF(const GGUFFile &f, TokenizerFiles *out, std::string *error);

/// What the writer gives: tokenizer.ggml.* entries, and the bos/eos ids
/// tokenizer_config.json names (-1: none), which llama.cpp's converter
/// prefers to config.json's.
struct GGUFTokenizerMetadata {
  std::vector<std::pair<std::string, GGUFValue>> kv;
  int64_t bos = -1, eos = -1;
};

/// tokenizer.ggml.* entries for a tokenizer.json (+ tokenizer_config.json's
/// text, "" when there is none) of `dir` (for messages), the token list
/// padded with unused "[PADn]" tokens to `vocab` ids as llama.cpp pads it.
bool ggufTokenizerFromHF(const std::string &tokenizerJson, const std::string &configJson,
                         const std::string &dir, int64_t vocab, GGUFTokenizerMetadata *out,
                         std::string *error);

/// The same for GPT-2's first files, vocab.json and merges.txt (+
/// tokenizer_config.json's text, "" when there is none), as Hugging Face's
/// GPT2Tokenizer reads them: byte-level BPE split by GPT-2's pattern
/// (tokenizer.ggml.pre "gpt-2"), <|endoftext|> a special token. Errors name
/// the two files.
bool ggufTokenizerFromGPT2Files(const std::string &vocabJson, const std::string &mergesTxt,
                                const std::string &configJson, const std::string &dir,
                                int64_t vocab, GGUFTokenizerMetadata *out, std::string *error);

} // namespace xfmr::io

#endif

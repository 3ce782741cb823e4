// libFuzzer target: the GPT-2 tokenizer's two files, then tokenizing text
// with what loaded.
//
// Input format: VOCAB "\n---\n" MERGES ["\n---\n" TEXT]. The input is cut at
// the first "\n---\n" (vocab.json, then merges.txt) and the rest again at
// the next one (merges.txt, then the text to tokenize). Without a second
// separator the text is a fixed sample plus the merges part itself; without
// any, the whole input is vocab.json and merges.txt is empty. make_corpus.sh
// writes its seeds (excerpts of GPT-2's real files, and the full files) in
// this format; seeds/fuzz_tokenizer/ has small hand-written ones.
#include "tokenizer_load.h"
#include "xfmr/runtime.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {
const char kSeparator[] = "\n---\n";

/// Whether every byte 1..255 alone is one token of that byte: then any text
/// must come back whole from its tokens (byte-level BPE drops nothing).
bool coversBytes(xfmr_tokenizer *tok) {
  for (int b = 1; b < 256; ++b) {
    char s[2] = {char(b), 0};
    int32_t id;
    size_t len = 0;
    if (xfmr_tokenize(tok, s, &id, 1) != 1)
      return false;
    const char *bytes = xfmr_token_bytes(tok, id, &len);
    if (!bytes || len != 1 || bytes[0] != s[0])
      return false;
  }
  return true;
}

void tokenize(xfmr_tokenizer *tok, const std::string &text, bool wholeBytes) {
  // A C string: the text up to its first NUL.
  const char *s = text.c_str();
  int32_t small[4];
  int n = xfmr_tokenize(tok, s, small, 4);
  if (n < 0 || size_t(n) > strlen(s))
    std::abort(); // at most one token per byte
  std::vector<int32_t> ids(size_t(n) + 1);
  int again = xfmr_tokenize(tok, s, ids.data(), int(ids.size()));
  if (again != n)
    std::abort(); // the count does not depend on the buffer
  for (int i = 0; i < n && i < 4; ++i)
    if (small[i] != ids[size_t(i)])
      std::abort();
  std::string back;
  for (int i = 0; i < n; ++i) {
    size_t len = 0;
    const char *bytes = xfmr_token_bytes(tok, ids[size_t(i)], &len);
    if (!bytes)
      std::abort(); // tokenize returns only ids of the vocabulary
    back.append(bytes, len);
  }
  if (wholeBytes && back != s)
    std::abort(); // the tokens spell the text
  size_t len = 0;
  if (xfmr_token_bytes(tok, -1, &len) || xfmr_token_bytes(tok, INT32_MIN, &len))
    std::abort();
  (void)xfmr_token_bytes(tok, INT32_MAX, &len);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string in(reinterpret_cast<const char *>(data), size);
  std::string vocab = in, merges, text;
  bool haveText = false;
  size_t cut = in.find(kSeparator);
  if (cut != std::string::npos) {
    vocab = in.substr(0, cut);
    merges = in.substr(cut + strlen(kSeparator));
    size_t cut2 = merges.find(kSeparator);
    if (cut2 != std::string::npos) {
      text = merges.substr(cut2 + strlen(kSeparator));
      merges.resize(cut2);
      haveText = true;
    }
  }
  std::string error;
  xfmr_tokenizer *tok = loadTokenizerFromText(vocab, merges, "fuzz", &error);
  if (!tok) {
    if (error.empty())
      std::abort();
    return 0;
  }
  bool whole = coversBytes(tok);
  if (haveText) {
    tokenize(tok, text, whole);
  } else {
    tokenize(tok, "Hello world, the compiler's  tokens\n\n  \xc3\xa9\xe2\x82\xac 123 'll 've",
             whole);
    tokenize(tok, merges.substr(0, 4096), whole);
  }
  tokenize(tok, "", whole);
  xfmr_tokenizer_free(tok);
  return 0;
}

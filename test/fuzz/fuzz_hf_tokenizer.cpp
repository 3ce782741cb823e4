// libFuzzer target: Hugging Face's tokenizer.json (+ tokenizer_config.json),
// then encoding and decoding (whole and streamed) with what loaded.
//
// Input format: TOKENIZER_JSON ["\n---\n" CONFIG_JSON ["\n---\n" TEXT]]. Cut
// at the first "\n---\n" (tokenizer.json, then the rest) and the rest at the
// next one (tokenizer_config.json, then the text); an empty config part
// means no tokenizer_config.json. Without a text a fixed sample is encoded.
// make_corpus.sh writes excerpts of the real files of third_party/tokenizers
// in this format; seeds/fuzz_hf_tokenizer/ has small hand-written ones.
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
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

void check(bool ok) {
  if (!ok)
    std::abort();
}

bool validUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    xfmr::tok::CodePoint c = xfmr::tok::decodeAt(s, i);
    if (c.cp == 0xFFFD && c.len == 1)
      return false;
    i += c.len;
  }
  return true;
}

std::string detokenize(xfmr_tokenizer *tok, const std::vector<int32_t> &ids, unsigned flags) {
  int64_t n = xfmr_detokenize(tok, ids.data(), int(ids.size()), nullptr, 0, flags);
  check(n >= 0);
  std::string out(size_t(n) + 1, '\0');
  check(xfmr_detokenize(tok, ids.data(), int(ids.size()), out.data(), out.size(), flags) == n);
  check(out[size_t(n)] == '\0');
  out.resize(size_t(n));
  return out;
}

void roundTrip(xfmr_tokenizer *tok, const std::string &text, unsigned flags) {
  int32_t small[4];
  int n = xfmr_tokenize_ex(tok, text.data(), text.size(), small, 4, flags);
  check(n >= 0);
  std::vector<int32_t> ids(size_t(n) + 1);
  check(xfmr_tokenize_ex(tok, text.data(), text.size(), ids.data(), int(ids.size()), flags) == n);
  ids.resize(size_t(n));
  for (int i = 0; i < n && i < 4; ++i)
    check(small[i] == ids[size_t(i)]); // the ids do not depend on the buffer
  for (int32_t id : ids) {
    size_t len = 0;
    check(xfmr_token_bytes(tok, id, &len) != nullptr); // only ids of the vocabulary
  }
  for (unsigned decodeFlags : {0u, unsigned(XFMR_DECODE_SKIP_SPECIAL)}) {
    std::string whole = detokenize(tok, ids, decodeFlags);
    check(validUtf8(whole));
    xfmr_detokenizer *d = xfmr_detokenizer_create(tok, decodeFlags);
    check(d != nullptr);
    std::string streamed;
    size_t len = 0;
    for (int32_t id : ids) {
      const char *b = xfmr_detokenizer_feed(d, id, &len);
      check(b != nullptr && validUtf8(std::string(b, len)));
      streamed.append(b, len);
    }
    const char *tail = xfmr_detokenizer_flush(d, &len);
    streamed.append(tail, len);
    xfmr_detokenizer_free(d);
    if (!tok->cleanUpSpaces)
      check(streamed == whole);
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string in(reinterpret_cast<const char *>(data), size);
  std::string json = in, config, text;
  bool haveConfig = false, haveText = false;
  size_t cut = in.find(kSeparator);
  if (cut != std::string::npos) {
    json = in.substr(0, cut);
    config = in.substr(cut + strlen(kSeparator));
    size_t cut2 = config.find(kSeparator);
    if (cut2 != std::string::npos) {
      text = config.substr(cut2 + strlen(kSeparator));
      config.resize(cut2);
      haveText = true;
    }
    haveConfig = !config.empty();
  }
  std::string error;
  xfmr_tokenizer *tok = loadHfTokenizerFromText(json, haveConfig ? &config : nullptr, "fuzz", &error);
  if (!tok) {
    check(!error.empty() && error.find('\n') == std::string::npos); // one line
    return 0;
  }
  int32_t vocab = xfmr_tokenizer_vocab_size(tok);
  check(vocab > 0);
  for (int32_t id : {xfmr_tokenizer_bos(tok), xfmr_tokenizer_eos(tok)})
    check(id >= -1 && id < vocab);
  size_t len = 0;
  check(!xfmr_token_bytes(tok, -1, &len) && !xfmr_token_bytes(tok, vocab, &len));
  if (!haveText)
    text = "Hello world, the compiler's  tokens\n\n  \xc3\xa9\xe2\x82\xac 123 'll 've <s></s>"
           "<|begin_of_text|> \xf0\x9f\x91\x8b\xe2\x80\x8d \xff\xc3";
  for (unsigned flags : {0u, unsigned(XFMR_TOKENIZE_NO_SPECIAL), unsigned(XFMR_TOKENIZE_SPECIAL_AS_TEXT)})
    roundTrip(tok, text, flags);
  roundTrip(tok, "", 0);
  xfmr_tokenizer_free(tok);
  return 0;
}

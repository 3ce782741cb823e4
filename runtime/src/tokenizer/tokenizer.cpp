// The tokenizer's C API: loading (tokenizer.json when the directory has
// one, else GPT-2's vocab.json + merges.txt), encoding through the pipeline
// (added tokens, normalizer, pre-tokenizer, BPE, what surrounds a text),
// and decoding, whole or streamed.
//
// Hostile input is expected on both sides: loading reads bounded regular
// files and validates them (loaders.h), and encoding takes time
// O(n log n) and memory O(n) in the length of the text, whatever it is.
#include "../tokenizer_load.h"
#include "loaders.h"
#include "load_util.h"
#include "unicode.h"
#include "tokenizer.h"

#include "../error.h"
#include "xfmr/io/files.h"

#include <climits>
#include <cstring>
#include <memory>
#include <new>

using xfmr::rt::setError;
using namespace xfmr::tok;

namespace {
/// Runs `load` on a fresh tokenizer; never throws.
template <class Load>
xfmr_tokenizer *loadGuarded(const std::string &name, std::string *error, Load load) {
  std::string ignored;
  std::string &err = error ? *error : ignored;
  try {
    auto t = std::make_unique<xfmr_tokenizer>();
    if (!load(*t, &err))
      return nullptr;
    return t.release();
  } catch (const std::bad_alloc &) {
    err = name + ": out of memory loading the tokenizer";
  } catch (const std::exception &e) {
    err = name + ": cannot load the tokenizer (" + e.what() + ")";
  } catch (...) {
    err = name + ": cannot load the tokenizer";
  }
  return nullptr;
}

/// Calls emit(id) for each id of the text, in order.
template <class Emit>
void encode(xfmr_tokenizer &t, std::string_view text, unsigned flags, Emit &&emit) {
  bool specialsAsText = flags & XFMR_TOKENIZE_SPECIAL_AS_TEXT;
  if (!(flags & XFMR_TOKENIZE_NO_SPECIAL))
    for (int32_t id : t.prefix)
      emit(id);
  auto words = [&](std::string_view word) {
    for (int32_t id : t.model.encodeWord(word))
      emit(id);
  };
  std::vector<Section> sections, inner;
  t.added.split(text, specialsAsText, sections);
  std::string normalized;
  for (size_t k = 0; k < sections.size(); ++k) {
    if (sections[k].id >= 0) {
      emit(sections[k].id);
      continue;
    }
    // Each run between added tokens is normalized and pre-tokenized on its
    // own; Metaspace's "first" scheme holds for the run that starts the text.
    std::string_view run = sections[k].text;
    if (!t.normalizer.empty()) {
      normalized = normalize(t.normalizer, run);
      run = normalized;
    }
    t.addedNormalized.split(run, specialsAsText, inner);
    for (const Section &s : inner) {
      if (s.id >= 0)
        emit(s.id);
      else
        preTokenize(t.preTokenizer, s.text, k == 0, words);
    }
  }
  if (!(flags & XFMR_TOKENIZE_NO_SPECIAL))
    for (int32_t id : t.suffix)
      emit(id);
}

bool validId(const xfmr_tokenizer *t, int32_t id) { return id >= 0 && id < t->vocabSize(); }

/// The complete UTF-8 that token `id` adds to a decoder's text, into d->out.
void feed(xfmr_detokenizer *d, int32_t id) {
  const xfmr_tokenizer &t = *d->tok;
  if ((d->flags & XFMR_DECODE_SKIP_SPECIAL) && t.special[size_t(id)])
    return;
  size_t before = d->out.size();
  d->utf8.feed(t.bytesOf[size_t(id)], d->out);
  // SentencePiece's leading space (Strip after Fuse, Metaspace) comes off
  // the start of the text only: stop at the first other character.
  size_t cut = before;
  while (d->stripLeft > 0 && cut < d->out.size()) {
    CodePoint c = decodeAt(d->out, cut);
    if (c.cp != t.decoder.stripCp) {
      d->stripLeft = 0;
      break;
    }
    cut += c.len;
    --d->stripLeft;
  }
  d->out.erase(before, cut - before);
}

void resetDetokenizer(xfmr_detokenizer *d) {
  d->utf8.reset();
  d->stripLeft = d->tok->decoder.stripCount;
  d->out.clear();
}
} // namespace

xfmr_tokenizer *loadTokenizerFromText(const std::string &vocabJson, const std::string &mergesTxt,
                                      const std::string &nameForErrors, std::string *error) {
  return loadGuarded(nameForErrors, error, [&](xfmr_tokenizer &t, std::string *err) {
    return loadGpt2Files(vocabJson, mergesTxt, nameForErrors, t, err);
  });
}

xfmr_tokenizer *loadHfTokenizerFromText(const std::string &tokenizerJson,
                                        const std::string *configJson,
                                        const std::string &nameForErrors, std::string *error) {
  return loadGuarded(nameForErrors, error, [&](xfmr_tokenizer &t, std::string *err) {
    return loadHfFiles(tokenizerJson, configJson ? *configJson : std::string(), configJson,
                       nameForErrors, t, err);
  });
}

xfmr_tokenizer *loadTokenizerFromDir(const std::string &dir, int64_t maxFileBytes,
                                     std::string *error) {
  std::string ignored;
  std::string &err = error ? *error : ignored;
  try {
    using xfmr::io::readRegularFile;
    std::string hfPath = dir + "/tokenizer.json", configPath = dir + "/tokenizer_config.json";
    if (!missing(hfPath)) { // tokenizer.json takes precedence
      std::string hf, config;
      bool haveConfig = !missing(configPath);
      if (!readRegularFile(hfPath, maxFileBytes, &hf, &err) ||
          (haveConfig && !readRegularFile(configPath, maxFileBytes, &config, &err)))
        return nullptr;
      return loadHfTokenizerFromText(hf, haveConfig ? &config : nullptr, dir, &err);
    }
    std::string vocabPath = dir + "/vocab.json", mergesPath = dir + "/merges.txt";
    if (missing(vocabPath) || missing(mergesPath)) {
      err = dir + ": no tokenizer (tokenizer.json, or vocab.json and merges.txt)";
      return nullptr;
    }
    std::string vocabJson, mergesTxt;
    if (!readRegularFile(vocabPath, maxFileBytes, &vocabJson, &err) ||
        !readRegularFile(mergesPath, maxFileBytes, &mergesTxt, &err))
      return nullptr;
    return loadTokenizerFromText(vocabJson, mergesTxt, dir, &err);
  } catch (const std::bad_alloc &) {
    err = dir + ": out of memory reading the tokenizer";
  }
  return nullptr;
}

extern "C" xfmr_tokenizer *xfmr_tokenizer_load(const char *dir) {
  std::string error;
  xfmr_tokenizer *t = nullptr;
  try {
    t = loadTokenizerFromDir(dir ? dir : ".", kMaxTokenizerFileBytes, &error);
  } catch (...) { // only a std::string allocation above can throw
    error = "xfmr_tokenizer_load: out of memory";
  }
  if (!t)
    setError(error);
  return t;
}

extern "C" void xfmr_tokenizer_free(xfmr_tokenizer *t) { delete t; }

extern "C" int xfmr_tokenizer_vocab_size(const xfmr_tokenizer *t) { return t ? t->vocabSize() : -1; }
extern "C" int32_t xfmr_tokenizer_bos(const xfmr_tokenizer *t) { return t ? t->bos : -1; }
extern "C" int32_t xfmr_tokenizer_eos(const xfmr_tokenizer *t) { return t ? t->eos : -1; }
extern "C" int xfmr_token_is_special(const xfmr_tokenizer *t, int32_t id) {
  return t && validId(t, id) && t->special[size_t(id)];
}

/// Beyond the header's contract: a NULL tokenizer, more than INT_MAX ids
/// (whose count would not fit the int returned) or running out of memory
/// returns 0 and sets xfmr_last_error(); 0 rather than -1 so that the
/// size-then-fill pattern of callers allocates nothing. A NULL text is "",
/// a negative cap or NULL ids is 0.
extern "C" int xfmr_tokenize_ex(xfmr_tokenizer *t, const char *text, size_t len, int32_t *ids,
                                int cap, unsigned flags) {
  if (!t) {
    setError("xfmr_tokenize: no tokenizer (NULL)");
    return 0;
  }
  if (!text)
    len = 0;
  if (!ids || cap < 0)
    cap = 0;
  int64_t count = 0;
  try {
    encode(*t, std::string_view(text ? text : "", len), flags, [&](int32_t id) {
      if (count < cap)
        ids[count] = id;
      ++count;
    });
  } catch (const std::bad_alloc &) {
    setError("xfmr_tokenize: out of memory");
    return 0;
  } catch (const std::exception &e) { // none expected; never past the C API
    setError(std::string("xfmr_tokenize: ") + e.what());
    return 0;
  }
  if (count > INT_MAX) {
    setError("xfmr_tokenize: a text of " + std::to_string(len) + " bytes gives " +
             std::to_string(count) + " ids, more than the " + std::to_string(INT_MAX) +
             " an int counts");
    return 0;
  }
  return int(count);
}

extern "C" int xfmr_tokenize(xfmr_tokenizer *t, const char *text, int32_t *ids, int cap) {
  return xfmr_tokenize_ex(t, text, text ? std::strlen(text) : 0, ids, cap, 0);
}

extern "C" const char *xfmr_token_bytes(const xfmr_tokenizer *t, int32_t id, size_t *len) {
  if (!t || !validId(t, id))
    return nullptr;
  if (len)
    *len = t->bytesOf[size_t(id)].size();
  return t->bytesOf[size_t(id)].data();
}

extern "C" xfmr_detokenizer *xfmr_detokenizer_create(const xfmr_tokenizer *t, unsigned flags) {
  if (!t) {
    setError("xfmr_detokenizer_create: no tokenizer (NULL)");
    return nullptr;
  }
  auto *d = new (std::nothrow) xfmr_detokenizer{t, flags, {}, 0, {}};
  if (!d) {
    setError("xfmr_detokenizer_create: out of memory");
    return nullptr;
  }
  resetDetokenizer(d);
  return d;
}

extern "C" void xfmr_detokenizer_free(xfmr_detokenizer *d) { delete d; }
extern "C" void xfmr_detokenizer_reset(xfmr_detokenizer *d) {
  if (d)
    resetDetokenizer(d);
}

extern "C" const char *xfmr_detokenizer_feed(xfmr_detokenizer *d, int32_t id, size_t *len) {
  if (!d || !validId(d->tok, id)) {
    setError("xfmr_detokenizer_feed: " + std::string(d ? "id " + std::to_string(id) +
                                                             " is outside the vocabulary of " +
                                                             std::to_string(d->tok->vocabSize())
                                                       : "no detokenizer (NULL)"));
    return nullptr;
  }
  try {
    d->out.clear();
    feed(d, id);
  } catch (const std::bad_alloc &) {
    setError("xfmr_detokenizer_feed: out of memory");
    return nullptr;
  }
  if (len)
    *len = d->out.size();
  return d->out.c_str();
}

extern "C" const char *xfmr_detokenizer_flush(xfmr_detokenizer *d, size_t *len) {
  if (!d) {
    setError("xfmr_detokenizer_flush: no detokenizer (NULL)");
    return nullptr;
  }
  d->out.clear(); // at most 3 bytes: no allocation past the small buffer
  d->utf8.flush(d->out);
  if (len)
    *len = d->out.size();
  return d->out.c_str();
}

extern "C" int64_t xfmr_detokenize(const xfmr_tokenizer *t, const int32_t *ids, int n, char *out,
                                   size_t cap, unsigned flags) {
  if (!t) {
    setError("xfmr_detokenize: no tokenizer (NULL)");
    return -1;
  }
  if (n < 0 || (n > 0 && !ids)) {
    setError("xfmr_detokenize: no ids (n " + std::to_string(n) + ")");
    return -1;
  }
  try {
    xfmr_detokenizer d{t, flags, {}, 0, {}};
    resetDetokenizer(&d);
    std::string text;
    for (int i = 0; i < n; ++i) {
      if (!validId(t, ids[i])) {
        setError("xfmr_detokenize: id " + std::to_string(ids[i]) + " at index " +
                 std::to_string(i) + " is outside the vocabulary of " +
                 std::to_string(t->vocabSize()));
        return -1;
      }
      d.out.clear();
      feed(&d, ids[i]);
      text += d.out;
    }
    d.utf8.flush(text);
    if (t->cleanUpSpaces)
      text = cleanUpTokenizationSpaces(std::move(text));
    if (out && cap > 0) {
      size_t k = std::min(cap - 1, text.size());
      std::memcpy(out, text.data(), k);
      out[k] = '\0';
    }
    return int64_t(text.size());
  } catch (const std::bad_alloc &) {
    setError("xfmr_detokenize: out of memory");
    return -1;
  }
}

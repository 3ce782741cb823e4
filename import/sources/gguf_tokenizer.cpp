// A GGUF file's tokenizer metadata as tokenizer.json + tokenizer_config.json
// (gguf_tokenizer.h). Every key is checked before it is used: its type, an
// array's element type and length (the same for tokens, types and scores),
// ids in range, token texts valid UTF-8 and distinct, merges of tokens into
// tokens. A bad one is one line naming the file and the key; what comes
// out is a tokenizer the runtime loads and that gives the ids the
// tokenizer.json the GGUF was converted from gives.
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/io/files.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

using namespace xfmr::io;

// llama.cpp's names (llama-vocab.cpp) of the Hugging Face split regexes the
// runtime implements. Qwen2's tokenizer.json normalizes to NFC first;
// Llama 3's takes a word that is a token whole.
const GGUFPreTokenizer xfmr::io::kGGUFPreTokenizers[] = {
    {"gpt-2", "", false, false},
    {"llama-bpe", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", false, true},
    {"llama3", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", false, true},
    {"llama-v3", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", false, true},
    {"qwen2", R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)", true, false},
};
const size_t xfmr::io::kGGUFPreTokenizerCount =
    sizeof kGGUFPreTokenizers / sizeof kGGUFPreTokenizers[0];

const GGUFPreTokenizer *xfmr::io::ggufPreTokenizer(const std::string &name) {
  for (size_t i = 0; i < kGGUFPreTokenizerCount; ++i)
    if (name == kGGUFPreTokenizers[i].name)
      return &kGGUFPreTokenizers[i];
  return nullptr;
}

std::string xfmr::io::ggufPreTokenizerNames() {
  std::string r;
  for (size_t i = 0; i < kGGUFPreTokenizerCount; ++i)
    r += (i ? ", " : "") + std::string(kGGUFPreTokenizers[i].name);
  return r;
}

namespace {
constexpr const char *kSpace = "\xE2\x96\x81"; // U+2581, SentencePiece's space

/// "a string", "an array of i32": what a value is, for messages.
std::string kindOf(const GGUFValue &v) {
  std::string name = ggufTypeName(v.type);
  if (v.type == GGUFType::Array)
    name += std::string(" of ") + ggufTypeName(v.elementType);
  return (name[0] == 'a' || name[0] == 'i' || name[0] == 'f' ? "an " : "a ") + name;
}

/// Typed reads of tokenizer.* keys; the first failure is kept.
struct Meta {
  const GGUFFile &f;
  std::string error;

  bool fail(const std::string &key, const std::string &why) {
    if (error.empty())
      error = f.path() + ": metadata '" + key + "' " + why;
    return false;
  }
  /// An array of `n` elements (any n when 0) of the kinds `ok` accepts.
  const GGUFValue *array(const std::string &key, size_t n, bool (*ok)(GGUFType),
                         const char *what, bool required) {
    const GGUFValue *v = f.find(key);
    if (!v) {
      if (required)
        fail(key, "is missing");
      return nullptr;
    }
    if (v->type != GGUFType::Array || !ok(v->elementType)) {
      fail(key, std::string("must be an array of ") + what + ", not " + kindOf(*v));
      return nullptr;
    }
    if (n && v->elements.size() != n) {
      fail(key, "has " + std::to_string(v->elements.size()) + " elements; tokenizer.ggml.tokens has " +
                    std::to_string(n));
      return nullptr;
    }
    return v;
  }
  bool flag(const std::string &key, bool def, bool *out) {
    const GGUFValue *v = f.find(key);
    if (!v) {
      *out = def;
      return true;
    }
    if (v->type != GGUFType::Bool)
      return fail(key, "must be a bool, not " + kindOf(*v));
    *out = v->u != 0;
    return true;
  }
  /// An optional token id in [0, n); -1 when absent.
  bool id(const std::string &key, size_t n, int64_t *out) {
    *out = -1;
    const GGUFValue *v = f.find(key);
    if (!v)
      return true;
    bool isSigned = v->type == GGUFType::I8 || v->type == GGUFType::I16 ||
                    v->type == GGUFType::I32 || v->type == GGUFType::I64;
    bool isUnsigned = v->type == GGUFType::U8 || v->type == GGUFType::U16 ||
                      v->type == GGUFType::U32 || v->type == GGUFType::U64;
    if (!isSigned && !isUnsigned)
      return fail(key, "must be an integer, not " + kindOf(*v));
    if (isSigned ? v->i < 0 || uint64_t(v->i) >= n : v->u >= n)
      return fail(key, "= " + (isSigned ? std::to_string(v->i) : std::to_string(v->u)) +
                           " is not a token id (0.." + std::to_string(n - 1) + ")");
    *out = isSigned ? v->i : int64_t(v->u);
    return true;
  }
  bool string(const std::string &key, std::string *out, bool *present) {
    const GGUFValue *v = f.find(key);
    *present = v != nullptr;
    if (!v)
      return true;
    if (v->type != GGUFType::String)
      return fail(key, "must be a string, not " + kindOf(*v));
    if (!llvm::json::isUTF8(v->s))
      return fail(key, "is not valid UTF-8");
    *out = v->s;
    return true;
  }
};

bool isString(GGUFType t) { return t == GGUFType::String; }
bool isInteger(GGUFType t) {
  return t == GGUFType::I8 || t == GGUFType::I16 || t == GGUFType::I32 || t == GGUFType::I64 ||
         t == GGUFType::U8 || t == GGUFType::U16 || t == GGUFType::U32 || t == GGUFType::U64;
}
bool isFloat(GGUFType t) { return t == GGUFType::F32 || t == GGUFType::F64; }

/// Everything the two files are written from.
struct Vocab {
  bool spm = false;                 // "llama"; else "gpt2"
  const GGUFPreTokenizer *pre = nullptr;
  std::vector<std::string> tokens;  // those kept (trailing unused ones dropped)
  std::vector<GGUFTokenType> types;
  size_t modelEnd = 0;              // ids below: model.vocab; the rest added only
  std::vector<Merge> merges;
  const GGUFValue *mergeList = nullptr; // gpt2: tokenizer.ggml.merges, checked
  int64_t bos = -1, eos = -1, unk = -1;
  bool addBos = false, addEos = false, spacePrefix = true, cleanSpaces = false;
  std::string chatTemplate;
  bool haveTemplate = false;
};

bool readTokens(Meta &m, Vocab &v) {
  const GGUFValue *tokens = m.array("tokenizer.ggml.tokens", 0, isString, "strings", true);
  if (!tokens)
    return false;
  const size_t n = tokens->elements.size();
  if (n == 0 || n > size_t(INT32_MAX))
    return m.fail("tokenizer.ggml.tokens", n ? "has too many tokens" : "is empty");
  const GGUFValue *types = m.array("tokenizer.ggml.token_type", n, isInteger, "integers", false);
  if (!m.error.empty())
    return false;
  v.types.assign(n, GGUFTokenType::Normal);
  for (size_t i = 0; types && i < n; ++i) {
    const GGUFValue &t = types->elements[i];
    int64_t x = t.type == GGUFType::U8 || t.type == GGUFType::U16 || t.type == GGUFType::U32 ||
                        t.type == GGUFType::U64
                    ? int64_t(std::min<uint64_t>(t.u, 1000))
                    : t.i;
    if (x < int64_t(GGUFTokenType::Normal) || x > int64_t(GGUFTokenType::Byte))
      return m.fail("tokenizer.ggml.token_type",
                    "[" + std::to_string(i) + "] = " + std::to_string(x) +
                        " is not a token type (1 normal, 2 unknown, 3 control, 4 user-defined, "
                        "5 unused, 6 byte)");
    v.types[i] = GGUFTokenType(x);
  }
  // llama.cpp pads the list to the embedding's rows with unused tokens: no
  // text reaches them, and Hugging Face's file has no such ids.
  size_t kept = n;
  while (kept > 0 && v.types[kept - 1] == GGUFTokenType::Unused)
    --kept;
  auto addedOnly = [](GGUFTokenType t) {
    return t == GGUFTokenType::Control || t == GGUFTokenType::UserDefined;
  };
  while (v.modelEnd < kept && !addedOnly(v.types[v.modelEnd]))
    ++v.modelEnd;
  for (size_t i = v.modelEnd; i < kept; ++i)
    if (!addedOnly(v.types[i]))
      v.modelEnd = i + 1;
  if (v.modelEnd == 0)
    return m.fail("tokenizer.ggml.tokens", "has no token that is not control or user-defined");
  v.types.resize(kept);
  v.tokens.reserve(kept);
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(kept);
  for (size_t i = 0; i < kept; ++i) {
    const std::string &s = tokens->elements[i].s;
    std::string at = "[" + std::to_string(i) + "] " + quoted(s);
    if (!llvm::json::isUTF8(s))
      return m.fail("tokenizer.ggml.tokens", "[" + std::to_string(i) + "] is not valid UTF-8");
    if (s.empty() && (i >= v.modelEnd || v.types[i] != GGUFTokenType::Normal))
      return m.fail("tokenizer.ggml.tokens", "[" + std::to_string(i) + "] is empty");
    if (auto [it, fresh] = seen.emplace(s, i); !fresh)
      return m.fail("tokenizer.ggml.tokens", at + " is token " + std::to_string(it->second) +
                                                 " too (token texts must be distinct)");
  }
  for (size_t i = 0; i < kept; ++i)
    v.tokens.push_back(tokens->elements[i].s);
  return true;
}

/// "llama": byte tokens spelled <0xNN>, scores, the merges they imply.
bool readSentencePiece(Meta &m, Vocab &v) {
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const std::string &s = v.tokens[i];
    auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
    if (v.types[i] == GGUFTokenType::Byte &&
        !(s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>'))
      return m.fail("tokenizer.ggml.tokens", "[" + std::to_string(i) + "] " + quoted(s) +
                                                 " is of type byte but not <0xNN>");
  }
  const size_t n = m.f.find("tokenizer.ggml.tokens")->elements.size();
  const GGUFValue *scores = m.array("tokenizer.ggml.scores", n, isFloat, "floats", true);
  if (!scores)
    return false;
  std::vector<float> score(v.modelEnd);
  std::vector<bool> result(v.modelEnd);
  for (size_t i = 0; i < v.modelEnd; ++i) {
    double s = scores->elements[i].f;
    if (!std::isfinite(s) || std::fabs(s) > 3e38)
      return m.fail("tokenizer.ggml.scores", "[" + std::to_string(i) + "] is not a finite float");
    score[i] = float(s);
    result[i] = v.types[i] == GGUFTokenType::Normal;
  }
  std::vector<std::string> model(v.tokens.begin(), v.tokens.begin() + long(v.modelEnd));
  v.merges = mergesFromScores(model, score, result);
  if (!m.id("tokenizer.ggml.unknown_token_id", v.modelEnd, &v.unk))
    return false;
  for (size_t i = 0; v.unk < 0 && i < v.modelEnd; ++i)
    if (v.types[i] == GGUFTokenType::Unknown)
      v.unk = int64_t(i);
  return m.flag("tokenizer.ggml.add_space_prefix", true, &v.spacePrefix);
}

/// "gpt2": the pre-tokenizer's name and merges "A B" of tokens into tokens.
bool readByteLevel(Meta &m, Vocab &v) {
  std::string pre;
  bool present = false;
  if (!m.string("tokenizer.ggml.pre", &pre, &present))
    return false;
  if (!present)
    return m.fail("tokenizer.ggml.pre", "is missing (byte-level BPE needs its split: one of " +
                                            ggufPreTokenizerNames() + ")");
  v.pre = ggufPreTokenizer(pre);
  if (!v.pre)
    return m.fail("tokenizer.ggml.pre", quoted(pre) + " is not a pre-tokenizer xfmr knows (" +
                                            ggufPreTokenizerNames() + ")");
  v.mergeList = m.array("tokenizer.ggml.merges", 0, isString, "strings", true);
  if (!v.mergeList)
    return false;
  std::unordered_map<std::string_view, size_t> idOf;
  idOf.reserve(v.modelEnd);
  for (size_t i = 0; i < v.modelEnd; ++i)
    idOf.emplace(v.tokens[i], i);
  for (size_t i = 0; i < v.mergeList->elements.size(); ++i) {
    const std::string &line = v.mergeList->elements[i].s;
    size_t space = line.find(' ');
    bool two = space != std::string::npos && space > 0 && space + 1 < line.size() &&
               line.find(' ', space + 1) == std::string::npos;
    std::string at = "[" + std::to_string(i) + "] " + quoted(line);
    if (!two)
      return m.fail("tokenizer.ggml.merges", at + " is not 'A B' (two tokens, one space)");
    std::string_view a(line.data(), space), b(line.data() + space + 1, line.size() - space - 1);
    std::string ab = std::string(a) + std::string(b);
    if (!idOf.count(a) || !idOf.count(b) || !idOf.count(ab))
      return m.fail("tokenizer.ggml.merges", at + " does not join two tokens into a token");
  }
  return true;
}

void writeAddedToken(llvm::json::OStream &j, const Vocab &v, size_t i) {
  bool special = v.types[i] != GGUFTokenType::UserDefined;
  j.object([&] {
    j.attribute("id", int64_t(i));
    j.attribute("content", v.tokens[i]);
    j.attribute("single_word", false);
    j.attribute("lstrip", false);
    j.attribute("rstrip", false);
    // llama.cpp matches user-defined tokens in the raw text too.
    j.attribute("normalized", false);
    j.attribute("special", special);
  });
}

std::string tokenizerJson(const Vocab &v) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::OStream j(os);
  auto type = [&](const char *t) { j.attribute("type", t); };
  j.object([&] {
    j.attribute("version", "1.0");
    j.attributeArray("added_tokens", [&] {
      for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.types[i] == GGUFTokenType::Control || v.types[i] == GGUFTokenType::UserDefined ||
            v.types[i] == GGUFTokenType::Unknown)
          writeAddedToken(j, v, i);
    });
    if (v.spm) {
      // Llama 2's file: a space before the text and spaces as U+2581, no
      // pre-tokenizer; decoding undoes both.
      j.attributeObject("normalizer", [&] {
        type("Sequence");
        j.attributeArray("normalizers", [&] {
          if (v.spacePrefix)
            j.object([&] {
              type("Prepend");
              j.attribute("prepend", kSpace);
            });
          j.object([&] {
            type("Replace");
            j.attributeObject("pattern", [&] { j.attribute("String", " "); });
            j.attribute("content", kSpace);
          });
        });
      });
      j.attribute("pre_tokenizer", nullptr);
      j.attributeObject("decoder", [&] {
        type("Sequence");
        j.attributeArray("decoders", [&] {
          j.object([&] {
            type("Replace");
            j.attributeObject("pattern", [&] { j.attribute("String", kSpace); });
            j.attribute("content", " ");
          });
          j.object([&] { type("ByteFallback"); });
          j.object([&] { type("Fuse"); });
          if (v.spacePrefix)
            j.object([&] {
              type("Strip");
              j.attribute("content", " ");
              j.attribute("start", 1);
              j.attribute("stop", 0);
            });
        });
      });
    } else {
      if (v.pre->nfc)
        j.attributeObject("normalizer", [&] { type("NFC"); });
      else
        j.attribute("normalizer", nullptr);
      auto byteLevel = [&](bool useRegex) {
        type("ByteLevel");
        j.attribute("add_prefix_space", false);
        j.attribute("trim_offsets", false);
        j.attribute("use_regex", useRegex);
      };
      j.attributeObject("pre_tokenizer", [&] {
        if (!*v.pre->regex)
          return byteLevel(true); // GPT-2's: ByteLevel splits with its own regex
        type("Sequence");
        j.attributeArray("pretokenizers", [&] {
          j.object([&] {
            type("Split");
            j.attributeObject("pattern", [&] { j.attribute("Regex", v.pre->regex); });
            j.attribute("behavior", "Isolated");
            j.attribute("invert", false);
          });
          j.object([&] { byteLevel(false); });
        });
      });
      j.attributeObject("decoder", [&] { byteLevel(false); });
    }
    j.attributeObject("model", [&] {
      type("BPE");
      j.attribute("dropout", nullptr);
      if (v.unk >= 0)
        j.attribute("unk_token", v.tokens[size_t(v.unk)]);
      j.attribute("fuse_unk", v.spm);
      j.attribute("byte_fallback", v.spm);
      j.attribute("ignore_merges", !v.spm && v.pre->ignoreMerges);
      j.attributeObject("vocab", [&] {
        for (size_t i = 0; i < v.modelEnd; ++i)
          j.attribute(v.tokens[i], int64_t(i));
      });
      j.attributeArray("merges", [&] {
        if (v.mergeList)
          for (const GGUFValue &s : v.mergeList->elements)
            j.value(s.s);
        for (const Merge &mg : v.merges) // pairs: a SentencePiece token may hold a space
          j.array([&] {
            j.value(v.tokens[size_t(mg[0])]);
            j.value(v.tokens[size_t(mg[1])]);
          });
      });
    });
  });
  os.flush();
  return text;
}

std::string configJson(const Vocab &v) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::OStream j(os);
  auto token = [&](const char *key, int64_t id) {
    if (id >= 0)
      j.attribute(key, v.tokens[size_t(id)]);
    else
      j.attribute(key, nullptr);
  };
  j.object([&] {
    token("bos_token", v.bos);
    token("eos_token", v.eos);
    j.attribute("add_bos_token", v.addBos);
    j.attribute("add_eos_token", v.addEos);
    j.attribute("clean_up_tokenization_spaces", v.cleanSpaces);
    if (v.haveTemplate) // for a chat server; the runtime does not read it
      j.attribute("chat_template", v.chatTemplate);
  });
  os.flush();
  return text;
}
} // namespace

bool xfmr::io::tokenizerFilesFromGGUF(const GGUFFile &f, TokenizerFiles *out,
                                      std::string *error) {
  out->clear();
  Meta m{f, ""};
  Vocab v;
  std::string model;
  bool present = false;
  if (!m.string("tokenizer.ggml.model", &model, &present)) {
    *error = m.error;
    return false;
  }
  if (!present || model == "none" || model == "no_vocab")
    return true;
  if (model != "llama" && model != "gpt2") {
    *error = f.path() + ": metadata 'tokenizer.ggml.model' " + quoted(model) +
             " is not a tokenizer xfmr implements (llama: SentencePiece-style BPE, gpt2: "
             "byte-level BPE)";
    return false;
  }
  v.spm = model == "llama";
  bool ok = readTokens(m, v) && (v.spm ? readSentencePiece(m, v) : readByteLevel(m, v)) &&
            m.id("tokenizer.ggml.bos_token_id", v.tokens.size(), &v.bos) &&
            m.id("tokenizer.ggml.eos_token_id", v.tokens.size(), &v.eos) &&
            // llama.cpp's defaults: SentencePiece adds <s>, byte-level nothing.
            m.flag("tokenizer.ggml.add_bos_token", v.spm, &v.addBos) &&
            m.flag("tokenizer.ggml.add_eos_token", false, &v.addEos) &&
            m.flag("tokenizer.ggml.clean_spaces", false, &v.cleanSpaces) &&
            m.string("tokenizer.chat_template", &v.chatTemplate, &v.haveTemplate);
  if (ok && v.addBos && v.bos < 0)
    ok = m.fail("tokenizer.ggml.add_bos_token", "is true, but there is no bos_token_id");
  if (ok && v.addEos && v.eos < 0)
    ok = m.fail("tokenizer.ggml.add_eos_token", "is true, but there is no eos_token_id");
  if (!ok) {
    *error = m.error;
    return false;
  }
  out->emplace_back("tokenizer.json", tokenizerJson(v));
  out->emplace_back("tokenizer_config.json", configJson(v));
  return true;
}

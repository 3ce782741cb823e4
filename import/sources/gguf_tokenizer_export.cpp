// A tokenizer.json (+ tokenizer_config.json) as GGUF tokenizer metadata
// (gguf_tokenizer.h), for xfmr export-gguf: what llama.cpp's converter
// writes, so that the reader (gguf_tokenizer.cpp) gives back a tokenizer
// with the same ids. GGUF holds less than tokenizer.json, so a file is
// written only in the two shapes the reader rebuilds, and each thing the
// metadata would lose is refused by name rather than dropped: Llama 2's
// SentencePiece-style BPE (its merges must be exactly what the scores
// written for them give back), or byte-level BPE with a split regex that
// tokenizer.ggml.pre can name.
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/io/files.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <unordered_map>

using namespace xfmr::io;
using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

namespace {
constexpr const char *kSpace = "\xE2\x96\x81"; // U+2581

/// Field reads of one file; errors name the file and the field.
struct Fields {
  std::string file;
  std::string *error;

  bool fail(const std::string &field, const std::string &what) const {
    *error = file + ": " + field + ": " + what;
    return false;
  }
  static const Value *get(const Object *o, const char *key) {
    const Value *v = o ? o->get(key) : nullptr;
    return v && v->kind() != Value::Null ? v : nullptr;
  }
  static std::string str(const Object *o, const char *key) {
    const Value *v = get(o, key);
    auto s = v ? v->getAsString() : std::nullopt;
    return s ? s->str() : "";
  }
  static bool flag(const Object *o, const char *key, bool def) {
    const Value *v = get(o, key);
    auto b = v ? v->getAsBoolean() : std::nullopt;
    return b ? *b : def;
  }
};

/// Parses `text` as a JSON object.
bool parseObject(const std::string &text, const std::string &path, Value *out,
                 std::string *error) {
  if (!jsonDepthWithin(text.data(), text.data() + text.size(), kMaxJsonDepth)) {
    *error = path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  llvm::Expected<Value> v = llvm::json::parse(text);
  if (!v) {
    *error = path + ": not valid JSON: " + llvm::toString(v.takeError());
    return false;
  }
  if (!v->getAsObject()) {
    *error = path + ": not a JSON object";
    return false;
  }
  *out = std::move(*v);
  return true;
}

/// A pipeline component's steps as short strings ("Prepend ▁",
/// "Split <regex>", ...), Sequences flattened, to compare with the shapes
/// the reader writes.
void steps(const Value *v, const char *listKey, std::vector<std::string> &out) {
  const Object *o = v ? v->getAsObject() : nullptr;
  if (!o)
    return;
  std::string type = Fields::str(o, "type");
  if (type == "Sequence") {
    if (const Array *a = o->getArray(listKey))
      for (const Value &s : *a)
        steps(&s, listKey, out);
    return;
  }
  const Object *pattern = o->getObject("pattern");
  if (type == "Prepend")
    out.push_back("Prepend " + Fields::str(o, "prepend"));
  else if (type == "Replace")
    out.push_back("Replace " + Fields::str(pattern, "String") + " " + Fields::str(o, "content"));
  else if (type == "Split")
    out.push_back(Fields::str(o, "behavior") == "Isolated" && !Fields::flag(o, "invert", false)
                      ? "Split " + Fields::str(pattern, "Regex")
                      : "Split (not isolated)");
  else if (type == "ByteLevel")
    out.push_back(std::string("ByteLevel") +
                  (Fields::flag(o, "add_prefix_space", false) ? " prefix" : "") +
                  (Fields::flag(o, "use_regex", true) ? " regex" : ""));
  else
    out.push_back(type);
}

/// The id of a token tokenizer_config.json names ("text" or {"content": ...}).
bool configToken(const Fields &f, const Object &config, const char *key,
                 const std::unordered_map<std::string, int64_t> &idOf, int64_t *id) {
  *id = -1;
  const Value *v = Fields::get(&config, key);
  if (!v)
    return true;
  const Object *o = v->getAsObject();
  auto s = o ? (o->get("content") ? o->get("content")->getAsString() : std::nullopt)
             : v->getAsString();
  if (!s)
    return f.fail(key, "expected a string or {\"content\": ...}");
  auto it = idOf.find(s->str());
  if (it == idOf.end())
    return f.fail(key, quoted(*s) + " is not a token of tokenizer.json");
  *id = it->second;
  return true;
}

/// The ids a TemplateProcessing puts before and after a text.
bool templateIds(const Fields &f, const Object *p, std::vector<int64_t> *before,
                 std::vector<int64_t> *after) {
  if (!p)
    return true;
  std::string type = Fields::str(p, "type");
  if (type == "Sequence") {
    if (const Array *a = p->getArray("processors"))
      for (const Value &s : *a)
        if (!templateIds(f, s.getAsObject(), before, after))
          return false;
    return true;
  }
  if (type != "TemplateProcessing")
    return true;
  const Array *single = p->getArray("single");
  const Object *specials = p->getObject("special_tokens");
  if (!single || !specials)
    return f.fail("post_processor", "a TemplateProcessing without single or special_tokens");
  bool seenA = false;
  for (const Value &item : *single) {
    const Object *o = item.getAsObject();
    if (o && o->get("Sequence")) {
      seenA = true;
      continue;
    }
    const Object *special = o ? o->getObject("SpecialToken") : nullptr;
    const Object *entry = special ? specials->getObject(Fields::str(special, "id")) : nullptr;
    const Array *ids = entry ? entry->getArray("ids") : nullptr;
    if (!ids)
      return f.fail("post_processor.single", "a special token without ids");
    for (const Value &id : *ids) {
      auto x = id.getAsInteger();
      if (!x)
        return f.fail("post_processor.special_tokens", "an id that is not an integer");
      (seenA ? after : before)->push_back(*x);
    }
  }
  return true;
}
} // namespace

namespace {
/// ggufTokenizerFromHF, errors naming `jsonPath` as the tokenizer.json.
bool fromTokenizerJson(const std::string &tokenizerJson, const std::string &configJson,
                       const std::string &dir, const std::string &jsonPath, int64_t vocab,
                       GGUFTokenizerMetadata *out, std::string *error) {
  Fields f{jsonPath, error};
  Value rootValue(nullptr);
  if (!parseObject(tokenizerJson, f.file, &rootValue, error))
    return false;
  const Object &root = *rootValue.getAsObject();
  const Object *model = root.getObject("model");
  if (!model || Fields::str(model, "type") != "BPE")
    return f.fail("model.type", "only BPE goes into GGUF (tokenizer.ggml.model llama or gpt2)");
  // Which of the two shapes, from the pipeline's steps.
  std::vector<std::string> norm, pre;
  steps(Fields::get(&root, "normalizer"), "normalizers", norm);
  steps(Fields::get(&root, "pre_tokenizer"), "pretokenizers", pre);
  const bool byteFallback = Fields::flag(model, "byte_fallback", false);
  const bool ignoreMerges = Fields::flag(model, "ignore_merges", false);
  const std::vector<std::string> llamaNorm = {std::string("Prepend ") + kSpace,
                                              std::string("Replace   ") + kSpace};
  bool spm = false, spacePrefix = true;
  const GGUFPreTokenizer *preTok = nullptr;
  if (pre.empty() && byteFallback && (norm == llamaNorm ||
                                      (norm.size() == 1 && norm[0] == llamaNorm[1]))) {
    spm = true;
    spacePrefix = norm.size() == 2;
  } else if (!byteFallback && (norm.empty() || norm == std::vector<std::string>{"NFC"})) {
    for (size_t i = 0; !preTok && i < kGGUFPreTokenizerCount; ++i) {
      const GGUFPreTokenizer &p = kGGUFPreTokenizers[i];
      std::vector<std::string> want = *p.regex ? std::vector<std::string>{std::string("Split ") + p.regex, "ByteLevel"}
                                               : std::vector<std::string>{"ByteLevel regex"};
      if (pre == want && p.nfc == !norm.empty() && p.ignoreMerges == ignoreMerges)
        preTok = &p;
    }
  }
  if (!spm && !preTok)
    return f.fail("pre_tokenizer",
                  "not a tokenizer GGUF metadata holds: SentencePiece-style BPE with byte "
                  "fallback (Llama 2's normalizer, no pre-tokenizer), or byte-level BPE split "
                  "as one of " + ggufPreTokenizerNames() + " (with its normalizer and ignore_merges)");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!Fields::str(model, key).empty())
      return f.fail(std::string("model.") + key, "not empty: GGUF has no such field");

  // The tokens: model.vocab's, then the added ones after them.
  const Object *vocabObj = model->getObject("vocab");
  if (!vocabObj || vocabObj->empty())
    return f.fail("model.vocab", "expected a non-empty object");
  const size_t modelSize = vocabObj->size();
  std::vector<std::string> tokens(modelSize);
  std::vector<bool> have(modelSize, false);
  std::unordered_map<std::string, int64_t> idOf; // model tokens, then added tokens
  for (const auto &[key, id] : *vocabObj) {
    auto i = id.getAsInteger();
    if (!i || *i < 0 || size_t(*i) >= modelSize || have[size_t(*i)])
      return f.fail("model.vocab", "the ids must be 0..N-1 for N tokens (" + quoted(key.str()) + ")");
    have[size_t(*i)] = true;
    tokens[size_t(*i)] = key.str();
    idOf[key.str()] = *i;
  }
  std::vector<GGUFTokenType> types(modelSize, GGUFTokenType::Normal);
  std::string unk = Fields::str(model, "unk_token");
  if (spm)
    for (size_t i = 0; i < modelSize; ++i) {
      const std::string &s = tokens[i];
      auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
      if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && hex(s[3]) && hex(s[4]) && s[5] == '>')
        types[i] = GGUFTokenType::Byte;
    }
  if (const Array *added = root.getArray("added_tokens")) {
    // By id: the ones past the model's must follow it without a gap.
    std::map<int64_t, const Object *> byId;
    for (size_t k = 0; k < added->size(); ++k) {
      const Object *a = (*added)[k].getAsObject();
      auto id = a ? a->getInteger("id") : std::nullopt;
      if (!id || *id < 0 || !byId.emplace(*id, a).second)
        return f.fail("added_tokens[" + std::to_string(k) + "]", "no id, or an id given twice");
    }
    for (const auto &[id, a] : byId) {
      std::string at = "added_tokens (id " + std::to_string(id) + ")", content = Fields::str(a, "content");
      bool special = Fields::flag(a, "special", false);
      if (size_t(id) < modelSize ? tokens[size_t(id)] != content : size_t(id) != tokens.size())
        return f.fail(at, "not model.vocab's token of that id, nor the next id after the vocabulary");
      if (!special && Fields::flag(a, "normalized", true) && !norm.empty())
        return f.fail(at, "a normalized non-special token: GGUF's user-defined tokens are matched "
                          "in the raw text");
      if (Fields::flag(a, "lstrip", false) || Fields::flag(a, "rstrip", false) ||
          Fields::flag(a, "single_word", false))
        return f.fail(at, "lstrip, rstrip or single_word: GGUF has no such flags");
      if (size_t(id) == tokens.size()) {
        tokens.push_back(content);
        types.push_back(GGUFTokenType::Normal);
        idOf.emplace(content, id);
      }
      types[size_t(id)] = special ? GGUFTokenType::Control : GGUFTokenType::UserDefined;
    }
  }
  int64_t unkId = -1;
  if (!unk.empty()) {
    auto it = idOf.find(unk);
    if (it == idOf.end())
      return f.fail("model.unk_token", quoted(unk) + " is not a token");
    unkId = it->second;
    types[size_t(unkId)] = GGUFTokenType::Unknown;
  }
  if (int64_t(tokens.size()) > vocab)
    return f.fail("model.vocab", "has " + std::to_string(tokens.size()) +
                                     " tokens with the added ones, more than the model's " +
                                     std::to_string(vocab));

  // Merges, as ids of model tokens.
  const Array *mergeList = model->getArray("merges");
  if (!mergeList)
    return f.fail("model.merges", "expected an array");
  std::vector<Merge> merges;
  merges.reserve(mergeList->size());
  std::vector<std::string> mergeLines;
  for (size_t k = 0; k < mergeList->size(); ++k) {
    const Value &m = (*mergeList)[k];
    std::string a, b, at = "model.merges[" + std::to_string(k) + "]";
    if (auto s = m.getAsString()) {
      size_t space = s->find(' ');
      if (space == llvm::StringRef::npos)
        return f.fail(at, "not 'A B'");
      a = s->substr(0, space).str();
      b = s->substr(space + 1).str();
    } else if (const Array *p = m.getAsArray(); p && p->size() == 2 && (*p)[0].getAsString() &&
                                                 (*p)[1].getAsString()) {
      a = (*p)[0].getAsString()->str();
      b = (*p)[1].getAsString()->str();
    } else {
      return f.fail(at, "expected \"A B\" or [\"A\", \"B\"]");
    }
    auto ia = idOf.find(a), ib = idOf.find(b), iab = idOf.find(a + b);
    if (ia == idOf.end() || ib == idOf.end() || iab == idOf.end() ||
        size_t(iab->second) >= modelSize)
      return f.fail(at, "does not join two tokens of model.vocab into one");
    if (!spm && (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos))
      return f.fail(at, "a part holds a space, which tokenizer.ggml.merges cannot");
    merges.push_back({int32_t(ia->second), int32_t(ib->second), int32_t(iab->second)});
    if (!spm)
      mergeLines.push_back(a + " " + b);
  }
  std::vector<float> scores;
  if (spm) {
    // Scores llama.cpp's tokenizer and Hugging Face's converter both read
    // as merge order: a token's is minus the rank of its first merge; a
    // token no merge makes ranks below all of them.
    std::vector<std::string> modelTokens(tokens.begin(), tokens.begin() + long(modelSize));
    std::vector<bool> result(modelSize);
    scores.assign(tokens.size(), 0.0f);
    for (size_t i = 0; i < modelSize; ++i) {
      result[i] = types[i] == GGUFTokenType::Normal;
      if (result[i])
        scores[i] = -float(merges.size());
    }
    for (size_t r = merges.size(); r-- > 0;)
      scores[size_t(merges[r][2])] = -float(r);
    if (mergesFromScores(modelTokens, scores, result) != merges)
      return f.fail("model.merges", "not the merges SentencePiece scores give back (every "
                                    "split of a token into two tokens, by the token's first "
                                    "merge), so GGUF cannot hold them");
  }

  // tokenizer_config.json: bos/eos and whether they are added, the chat
  // template, clean-up of decoded text.
  int64_t bos = -1, eos = -1;
  bool addBos = false, addEos = false, cleanSpaces = false, haveAdd = false;
  std::string chatTemplate;
  bool haveTemplate = false;
  if (!configJson.empty()) {
    Fields fc{dir + "/tokenizer_config.json", error};
    Value cv(nullptr);
    if (!parseObject(configJson, fc.file, &cv, error))
      return false;
    const Object &config = *cv.getAsObject();
    if (!configToken(fc, config, "bos_token", idOf, &bos) ||
        !configToken(fc, config, "eos_token", idOf, &eos))
      return false;
    haveAdd = Fields::get(&config, "add_bos_token") || Fields::get(&config, "add_eos_token");
    addBos = Fields::flag(&config, "add_bos_token", false);
    addEos = Fields::flag(&config, "add_eos_token", false);
    cleanSpaces = Fields::flag(&config, "clean_up_tokenization_spaces", false);
    if (const Value *t = Fields::get(&config, "chat_template")) {
      auto s = t->getAsString();
      if (!s)
        return fc.fail("chat_template", "a list of named templates: only one string goes into "
                                        "tokenizer.chat_template");
      chatTemplate = s->str();
      haveTemplate = true;
    }
  }
  if (!haveAdd) { // as the runtime: the template decides when the config does not
    std::vector<int64_t> before, after;
    if (!templateIds(f, root.getObject("post_processor"), &before, &after))
      return false;
    if (bos < 0 && before.size() == 1)
      bos = before[0];
    if (eos < 0 && after.size() == 1)
      eos = after[0];
    if (before.size() > 1 || after.size() > 1 || (before.size() == 1 && before[0] != bos) ||
        (after.size() == 1 && after[0] != eos))
      return f.fail("post_processor", "puts ids around a text other than bos before and eos "
                                      "after, which GGUF cannot say");
    addBos = before.size() == 1;
    addEos = after.size() == 1;
  }

  // The entries, as llama.cpp's converter names them.
  std::vector<std::string> all = tokens;
  for (int64_t i = int64_t(tokens.size()); i < vocab; ++i) {
    all.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(GGUFTokenType::Unused);
  }
  auto &kv = out->kv;
  kv.clear();
  kv.emplace_back("tokenizer.ggml.model", GGUFValue::string(spm ? "llama" : "gpt2"));
  kv.emplace_back("tokenizer.ggml.pre", GGUFValue::string(spm ? "default" : preTok->name));
  kv.emplace_back("tokenizer.ggml.tokens", GGUFValue::strings(all));
  if (spm) {
    std::vector<GGUFValue> s;
    for (size_t i = 0; i < all.size(); ++i)
      s.push_back(GGUFValue::real(GGUFType::F32, i < scores.size() ? scores[i] : 0.0));
    kv.emplace_back("tokenizer.ggml.scores", GGUFValue::array(GGUFType::F32, std::move(s)));
  }
  std::vector<GGUFValue> t;
  for (GGUFTokenType ty : types)
    t.push_back(GGUFValue::signedInt(GGUFType::I32, int64_t(ty)));
  kv.emplace_back("tokenizer.ggml.token_type", GGUFValue::array(GGUFType::I32, std::move(t)));
  if (!spm)
    kv.emplace_back("tokenizer.ggml.merges", GGUFValue::strings(mergeLines));
  if (spm && unkId >= 0)
    kv.emplace_back("tokenizer.ggml.unknown_token_id",
                    GGUFValue::unsignedInt(GGUFType::U32, uint64_t(unkId)));
  kv.emplace_back("tokenizer.ggml.add_bos_token", GGUFValue::boolean(addBos));
  kv.emplace_back("tokenizer.ggml.add_eos_token", GGUFValue::boolean(addEos));
  if (spm)
    kv.emplace_back("tokenizer.ggml.add_space_prefix", GGUFValue::boolean(spacePrefix));
  if (cleanSpaces)
    kv.emplace_back("tokenizer.ggml.clean_spaces", GGUFValue::boolean(true));
  if (haveTemplate)
    kv.emplace_back("tokenizer.chat_template", GGUFValue::string(chatTemplate));
  out->bos = bos;
  out->eos = eos;
  return true;
}
} // namespace

bool xfmr::io::ggufTokenizerFromHF(const std::string &tokenizerJson,
                                   const std::string &configJson, const std::string &dir,
                                   int64_t vocab, GGUFTokenizerMetadata *out,
                                   std::string *error) {
  return fromTokenizerJson(tokenizerJson, configJson, dir, dir + "/tokenizer.json", vocab, out,
                           error);
}

bool xfmr::io::ggufTokenizerFromGPT2Files(const std::string &vocabJson,
                                          const std::string &mergesTxt,
                                          const std::string &configJson, const std::string &dir,
                                          int64_t vocab, GGUFTokenizerMetadata *out,
                                          std::string *error) {
  // The tokenizer.json Hugging Face's converter makes of these files (GPT-2's
  // own tokenizer.json is exactly that), then the one path to metadata.
  Value vocabValue(nullptr);
  if (!parseObject(vocabJson, dir + "/vocab.json", &vocabValue, error))
    return false;
  Array merges;
  for (size_t pos = 0; pos < mergesTxt.size();) {
    size_t eol = std::min(mergesTxt.find('\n', pos), mergesTxt.size());
    std::string line = mergesTxt.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (!line.empty() && line.rfind("#version", 0) != 0)
      merges.push_back(line);
  }
  Object model{{"type", "BPE"}, {"vocab", std::move(vocabValue)}, {"merges", std::move(merges)}};
  // GPT2Tokenizer's bos, eos and unk: a special token, matched in the text
  // (llama.cpp's converter marks it a control token).
  Array added;
  if (auto id = model.getObject("vocab")->getInteger("<|endoftext|>"))
    added.push_back(Object{{"id", *id}, {"content", "<|endoftext|>"}, {"special", true}});
  Object root{{"model", std::move(model)},
              {"pre_tokenizer", Object{{"type", "ByteLevel"},
                                       {"add_prefix_space", false},
                                       {"use_regex", true}}},
              {"added_tokens", std::move(added)}};
  std::string json;
  llvm::raw_string_ostream os(json);
  os << Value(std::move(root));
  os.flush();
  return fromTokenizerJson(json, configJson, dir, dir + "/vocab.json + merges.txt", vocab, out,
                           error);
}

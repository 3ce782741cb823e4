// Hugging Face's tokenizer.json (+ tokenizer_config.json): the parts of the
// format that byte-level BPE (GPT-2, Llama 3, Qwen2/3) and SentencePiece-
// style BPE (Llama 2, Mistral, TinyLlama) use. Anything else is refused with
// one line naming the file and the field, never approximated: a tokenizer
// that loads gives Hugging Face's ids or does not load.
//
// The files are untrusted: their nesting is checked before parsing, every
// field's type is checked before it is read, ids must be in range, merges
// must join tokens into tokens, and tables are no larger than the file.
#include "byte_level.h"
#include "load_util.h"
#include "loaders.h"
#include "unicode.h"

#include <climits>
#include <unordered_map>

namespace xfmr::tok {
namespace {
using json = nlohmann::json;

/// The most ids TemplateProcessing or tokenizer_config.json may put around
/// a text (real ones put one or two).
constexpr size_t kMaxTemplateIds = 64;

/// Reads one file's fields; every error names the file and the field.
class Fields {
public:
  Fields(std::string file, std::string *error) : file_(std::move(file)), error_(error) {}

  bool fail(const std::string &field, const std::string &what) const {
    *error_ = file_ + ": " + field + ": " + what;
    return false;
  }

  /// obj[key], or nullptr when absent or null.
  static const json *get(const json &obj, const char *key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  bool boolean(const json &obj, const char *key, const std::string &field, bool def,
               bool *out) const {
    const json *v = get(obj, key);
    if (!v) {
      *out = def;
      return true;
    }
    if (!v->is_boolean())
      return fail(field, "expected true or false");
    *out = v->get<bool>();
    return true;
  }
  /// A string field; absent or null gives *present = false (when asked).
  bool string(const json &obj, const char *key, const std::string &field, std::string *out,
              bool *present = nullptr) const {
    const json *v = get(obj, key);
    if (present)
      *present = v != nullptr;
    if (!v)
      return present ? true : fail(field, "missing");
    if (!v->is_string())
      return fail(field, "expected a string");
    *out = v->get<std::string>();
    return true;
  }
  bool object(const json *v, const std::string &field) const {
    return v && v->is_object() ? true : fail(field, "expected an object");
  }
  bool array(const json *v, const std::string &field) const {
    return v && v->is_array() ? true : fail(field, "expected an array");
  }
  /// An integer in [0, max].
  bool count(const json &obj, const char *key, const std::string &field, uint64_t def,
             uint64_t max, uint64_t *out) const {
    const json *v = get(obj, key);
    if (!v) {
      *out = def;
      return true;
    }
    if (!v->is_number_unsigned() || v->get<uint64_t>() > max)
      return fail(field, "expected an integer in 0.." + std::to_string(max));
    *out = v->get<uint64_t>();
    return true;
  }
  /// A component's "type".
  bool type(const json &obj, const std::string &field, std::string *out) const {
    return object(&obj, field) && string(obj, "type", field + ".type", out);
  }
  /// `known`: what is supported instead, for the message.
  bool unsupported(const std::string &field, const std::string &what,
                   const std::string &known = "") const {
    return fail(field, what + " is not supported" + (known.empty() ? "" : " (" + known + ")"));
  }
  const std::string &file() const { return file_; }

private:
  std::string file_;
  std::string *error_;
};

/// One code point, as UTF-8: a replacement or strip character.
bool oneCodePoint(const std::string &s, uint32_t *cp = nullptr) {
  if (s.empty())
    return false;
  CodePoint c = decodeAt(s, 0);
  if (cp)
    *cp = c.cp;
  return c.len == s.size() && !(c.cp == 0xFFFD && c.len == 1);
}

/// Metaspace's prepend_scheme (or the older add_prefix_space).
bool prependScheme(const Fields &f, const json &obj, const std::string &field,
                   PreTokenizeStep::Prepend *out) {
  std::string scheme;
  bool present = false;
  if (!f.string(obj, "prepend_scheme", field + ".prepend_scheme", &scheme, &present))
    return false;
  if (!present) {
    bool add = true;
    if (!f.boolean(obj, "add_prefix_space", field + ".add_prefix_space", true, &add))
      return false;
    *out = add ? PreTokenizeStep::Always : PreTokenizeStep::Never;
    return true;
  }
  if (scheme == "always")
    *out = PreTokenizeStep::Always;
  else if (scheme == "first")
    *out = PreTokenizeStep::First;
  else if (scheme == "never")
    *out = PreTokenizeStep::Never;
  else
    return f.fail(field + ".prepend_scheme", "expected 'always', 'first' or 'never', got " + quote(scheme));
  return true;
}

bool metaspaceReplacement(const Fields &f, const json &obj, const std::string &field,
                          std::string *out) {
  bool present = false;
  if (!f.string(obj, "replacement", field + ".replacement", out, &present))
    return false;
  if (!present)
    *out = "\xE2\x96\x81"; // U+2581, SentencePiece's "▁"
  return oneCodePoint(*out) ? true : f.fail(field + ".replacement", "expected one character");
}

// ---- normalizer -------------------------------------------------------------

bool parseNormalizer(const Fields &f, const json &n, const std::string &field,
                     std::vector<NormalizeStep> &steps) {
  std::string type;
  if (!f.type(n, field, &type))
    return false;
  if (type == "Sequence") {
    const json *list = Fields::get(n, "normalizers");
    if (!f.array(list, field + ".normalizers"))
      return false;
    for (size_t i = 0; i < list->size(); ++i)
      if (!parseNormalizer(f, (*list)[i], field + ".normalizers[" + std::to_string(i) + "]", steps))
        return false;
    return true;
  }
  if (type == "Prepend") {
    NormalizeStep s{NormalizeStep::Prepend, "", ""};
    if (!f.string(n, "prepend", field + ".prepend", &s.text))
      return false;
    steps.push_back(s);
    return true;
  }
  if (type == "Replace") {
    NormalizeStep s{NormalizeStep::Replace, "", ""};
    const json *pattern = Fields::get(n, "pattern");
    if (!f.object(pattern, field + ".pattern"))
      return false;
    if (pattern->contains("Regex"))
      return f.unsupported(field + ".pattern", "a Regex pattern");
    bool present = false;
    if (!f.string(*pattern, "String", field + ".pattern.String", &s.from, &present) ||
        !f.string(n, "content", field + ".content", &s.text))
      return false;
    if (!present || s.from.empty())
      return f.fail(field + ".pattern", "expected a non-empty String");
    steps.push_back(s);
    return true;
  }
  if (type == "NFC") {
    steps.push_back({NormalizeStep::Nfc, "", ""});
    return true;
  }
  return f.unsupported(field + ".type", "normalizer " + quote(type),
                       "supported: Sequence, Prepend, Replace, NFC");
}

// ---- pre_tokenizer -------------------------------------------------------

bool parsePreTokenizer(const Fields &f, const json &p, const std::string &field,
                       std::vector<PreTokenizeStep> &steps) {
  std::string type;
  if (!f.type(p, field, &type))
    return false;
  if (type == "Sequence") {
    const json *list = Fields::get(p, "pretokenizers");
    if (!f.array(list, field + ".pretokenizers"))
      return false;
    for (size_t i = 0; i < list->size(); ++i)
      if (!parsePreTokenizer(f, (*list)[i], field + ".pretokenizers[" + std::to_string(i) + "]",
                             steps))
        return false;
    return true;
  }
  // A ByteLevel step maps text to bytes: whatever came after it would see
  // the byte-level alphabet, which no supported step expects.
  if (!steps.empty() && steps.back().kind == PreTokenizeStep::ByteLevel)
    return f.unsupported(field, "a pre-tokenizer after ByteLevel");
  PreTokenizeStep s;
  if (type == "Split") {
    s.kind = PreTokenizeStep::Split;
    const json *pattern = Fields::get(p, "pattern");
    if (!f.object(pattern, field + ".pattern"))
      return false;
    std::string regex, behavior;
    bool present = false, invert = false;
    if (!f.string(*pattern, "Regex", field + ".pattern.Regex", &regex, &present))
      return false;
    if (!present)
      return f.unsupported(field + ".pattern", "a pattern other than Regex");
    if (!patternOf(regex, &s.pattern))
      return f.unsupported(field + ".pattern.Regex", "the regex " + quote(regex),
                           "known: GPT-2's, Llama 3's, Qwen2's");
    if (!f.string(p, "behavior", field + ".behavior", &behavior) ||
        !f.boolean(p, "invert", field + ".invert", false, &invert))
      return false;
    if (behavior != "Isolated")
      return f.unsupported(field + ".behavior", "behavior " + quote(behavior), "only Isolated");
    if (invert)
      return f.unsupported(field + ".invert", "invert: true");
  } else if (type == "ByteLevel") {
    s.kind = PreTokenizeStep::ByteLevel;
    if (!f.boolean(p, "add_prefix_space", field + ".add_prefix_space", false, &s.addPrefixSpace) ||
        !f.boolean(p, "use_regex", field + ".use_regex", true, &s.useRegex))
      return false;
  } else if (type == "Metaspace") {
    s.kind = PreTokenizeStep::Metaspace;
    if (!metaspaceReplacement(f, p, field, &s.replacement) ||
        !prependScheme(f, p, field, &s.prepend) ||
        !f.boolean(p, "split", field + ".split", true, &s.splitWords))
      return false;
  } else {
    return f.unsupported(field + ".type", "pre-tokenizer " + quote(type),
                         "supported: Sequence, Split, ByteLevel, Metaspace");
  }
  steps.push_back(s);
  return true;
}

// ---- decoder -------------------------------------------------------------

bool parseDecoder(const Fields &f, const json &d, const std::string &field, DecoderSpec &spec) {
  std::string type;
  if (!f.type(d, field, &type))
    return false;
  if (type == "ByteLevel") {
    spec.byteLevel = true;
    return true;
  }
  if (type == "Metaspace") {
    std::string replacement;
    PreTokenizeStep::Prepend prepend;
    if (!metaspaceReplacement(f, d, field, &replacement) || !prependScheme(f, d, field, &prepend))
      return false;
    spec.perToken.push_back({TokenDecodeStep::Replace, replacement, " "});
    spec.stripCount = prepend == PreTokenizeStep::Never ? 0 : 1;
    return true;
  }
  if (type != "Sequence")
    return f.unsupported(field + ".type", "decoder " + quote(type),
                         "supported: ByteLevel, Metaspace, Sequence");
  const json *list = Fields::get(d, "decoders");
  if (!f.array(list, field + ".decoders"))
    return false;
  bool fused = false; // after Fuse the text is one string: only its start may be stripped
  for (size_t i = 0; i < list->size(); ++i) {
    const json &step = (*list)[i];
    std::string at = field + ".decoders[" + std::to_string(i) + "]", kind;
    if (!f.type(step, at, &kind))
      return false;
    if (fused && kind != "Strip")
      return f.unsupported(at + ".type", "decoder " + quote(kind) + " after Fuse");
    if (kind == "Fuse") {
      fused = true;
    } else if (kind == "ByteFallback") {
      spec.perToken.push_back({TokenDecodeStep::ByteFallback, "", ""});
    } else if (kind == "Replace") {
      TokenDecodeStep s{TokenDecodeStep::Replace, "", ""};
      const json *pattern = Fields::get(step, "pattern");
      bool present = false;
      if (!f.object(pattern, at + ".pattern") ||
          !f.string(*pattern, "String", at + ".pattern.String", &s.from, &present) ||
          !f.string(step, "content", at + ".content", &s.to))
        return false;
      if (!present || s.from.empty())
        return f.unsupported(at + ".pattern", "a pattern other than a non-empty String");
      spec.perToken.push_back(s);
    } else if (kind == "Strip") {
      TokenDecodeStep s{TokenDecodeStep::Strip, "", ""};
      std::string content;
      uint64_t start = 0, stop = 0;
      if (!f.string(step, "content", at + ".content", &content) ||
          !f.count(step, "start", at + ".start", 0, INT32_MAX, &start) ||
          !f.count(step, "stop", at + ".stop", 0, INT32_MAX, &stop))
        return false;
      if (!oneCodePoint(content, &s.cp))
        return f.fail(at + ".content", "expected one character");
      s.start = int32_t(start);
      s.stop = int32_t(stop);
      if (!fused) {
        spec.perToken.push_back(s);
      } else {
        // The end of a streamed text is never known: only its start.
        if (stop != 0)
          return f.unsupported(at + ".stop", "stripping the end of the whole text");
        spec.stripCp = s.cp;
        spec.stripCount = s.start;
      }
    } else {
      return f.unsupported(at + ".type", "decoder " + quote(kind),
                           "supported in a Sequence: Replace, ByteFallback, Fuse, Strip");
    }
  }
  return true;
}

// ---- model ---------------------------------------------------------------

/// model.vocab: token -> id, the ids exactly 0..N-1.
bool parseVocab(const Fields &f, const json &model, xfmr_tokenizer &t) {
  const json *vocab = Fields::get(model, "vocab");
  if (!f.object(vocab, "model.vocab"))
    return false;
  size_t count = vocab->size();
  if (count == 0 || count > size_t(INT32_MAX))
    return f.fail("model.vocab", count ? "too many tokens" : "no tokens");
  t.bytesOf.assign(count, std::string());
  std::vector<bool> seen(count, false);
  t.model.idOf.reserve(count);
  for (auto &[tok, id] : vocab->items()) {
    if (!id.is_number_unsigned() || id.get<uint64_t>() >= count)
      return f.fail("model.vocab", "the id of token " + quote(tok) + " is not one of 0.." +
                                       std::to_string(count - 1) +
                                       " (the ids must be 0..N-1 for N tokens)");
    uint64_t i = id.get<uint64_t>();
    if (seen[i])
      return f.fail("model.vocab", "id " + std::to_string(i) + " is given twice (again to " +
                                       quote(tok) + ")");
    seen[i] = true;
    t.model.idOf.emplace(tok, int32_t(i));
    t.bytesOf[i] = tokenBytes(t.decoder, tok, /*added=*/false);
  }
  return true;
}

/// model.merges: "A B" strings or ["A", "B"] pairs, A, B and AB tokens.
bool parseMerges(const Fields &f, const json &model, xfmr_tokenizer &t) {
  const json *merges = Fields::get(model, "merges");
  if (!f.array(merges, "model.merges"))
    return false;
  auto idOf = [&](const std::string &s) {
    auto it = t.model.idOf.find(s);
    return it == t.model.idOf.end() ? -1 : it->second;
  };
  for (size_t i = 0; i < merges->size(); ++i) {
    const json &m = (*merges)[i];
    std::string at = "model.merges[" + std::to_string(i) + "]", a, b;
    if (m.is_string()) {
      const std::string &line = m.get_ref<const std::string &>();
      size_t space = line.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
          line.find(' ', space + 1) != std::string::npos)
        return f.fail(at, "not a merge 'A B' (two non-empty parts, one space): " + quote(line));
      a = line.substr(0, space);
      b = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      return f.fail(at, "expected \"A B\" or [\"A\", \"B\"]");
    }
    int32_t ia = idOf(a), ib = idOf(b), iab = idOf(a + b);
    if (ia < 0 || ib < 0 || iab < 0) {
      const std::string &bad = ia < 0 ? a : ib < 0 ? b : a + b;
      return f.fail(at, std::string(ia < 0 || ib < 0 ? "part " : "result ") + quote(bad) +
                            " is not a token of model.vocab");
    }
    t.model.merges.add(ia, ib, iab);
  }
  return true;
}

bool parseModel(const Fields &f, const json &root, xfmr_tokenizer &t) {
  const json *model = Fields::get(root, "model");
  std::string type;
  if (!f.object(model, "model") || !f.string(*model, "type", "model.type", &type))
    return false;
  if (type != "BPE")
    return f.unsupported("model.type", "model " + quote(type), "only BPE");
  if (const json *dropout = Fields::get(*model, "dropout"))
    if (!dropout->is_number() || dropout->get<double>() != 0.0)
      return f.unsupported("model.dropout", "BPE dropout (random merges)");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::string s;
    bool present = false;
    if (!f.string(*model, key, std::string("model.") + key, &s, &present))
      return false;
    if (present && !s.empty())
      return f.unsupported(std::string("model.") + key, "a non-empty " + std::string(key));
  }
  BpeModel &m = t.model;
  if (!f.boolean(*model, "byte_fallback", "model.byte_fallback", false, &m.byteFallback) ||
      !f.boolean(*model, "fuse_unk", "model.fuse_unk", false, &m.fuseUnk) ||
      !f.boolean(*model, "ignore_merges", "model.ignore_merges", false, &m.ignoreMerges) ||
      !parseVocab(f, *model, t) || !parseMerges(f, *model, t))
    return false;
  std::string unk;
  bool haveUnk = false;
  if (!f.string(*model, "unk_token", "model.unk_token", &unk, &haveUnk))
    return false;
  if (haveUnk) {
    auto it = m.idOf.find(unk);
    if (it == m.idOf.end())
      return f.fail("model.unk_token", quote(unk) + " is not a token of model.vocab");
    m.unk = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    static const char hex[] = "0123456789ABCDEF";
    std::string name = m.alphabet == Alphabet::Bytes
                           ? toByteLevel(std::string(1, char(b)))
                           : std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
    auto it = m.idOf.find(name);
    m.byteId[b] = it == m.idOf.end() ? -1 : it->second;
  }
  return true;
}

// ---- added tokens ------------------------------------------------------------

bool parseAddedTokens(const Fields &f, const json &root, xfmr_tokenizer &t,
                      std::unordered_map<std::string, int32_t> &addedIds) {
  const json *list = Fields::get(root, "added_tokens");
  if (!list)
    return true;
  if (!f.array(list, "added_tokens"))
    return false;
  int32_t modelSize = t.vocabSize();
  std::vector<AddedToken> all;
  size_t beyond = 0; // tokens with ids past the model's
  for (size_t i = 0; i < list->size(); ++i) {
    const json &a = (*list)[i];
    std::string at = "added_tokens[" + std::to_string(i) + "]";
    AddedToken tok;
    uint64_t id = 0;
    bool singleWord = false;
    if (!f.object(&a, at) || !f.count(a, "id", at + ".id", UINT64_MAX, INT32_MAX - 1, &id) ||
        !f.string(a, "content", at + ".content", &tok.content) ||
        !f.boolean(a, "special", at + ".special", false, &tok.special) ||
        !f.boolean(a, "lstrip", at + ".lstrip", false, &tok.lstrip) ||
        !f.boolean(a, "rstrip", at + ".rstrip", false, &tok.rstrip) ||
        !f.boolean(a, "normalized", at + ".normalized", !tok.special, &tok.normalized) ||
        !f.boolean(a, "single_word", at + ".single_word", false, &singleWord))
      return false;
    if (id == UINT64_MAX)
      return f.fail(at + ".id", "missing");
    if (singleWord)
      return f.unsupported(at + ".single_word", "single_word: true");
    if (tok.content.empty() || tok.content.size() > kMaxAddedTokenBytes)
      return f.fail(at + ".content", "expected 1.." + std::to_string(kMaxAddedTokenBytes) +
                                         " bytes, got " + std::to_string(tok.content.size()));
    tok.id = int32_t(id);
    if (!addedIds.emplace(tok.content, tok.id).second)
      return f.fail(at + ".content", quote(tok.content) + " is added twice");
    if (tok.id < modelSize) {
      // An id of the model's vocabulary must be the same token there.
      auto it = t.model.idOf.find(tok.content);
      if (it == t.model.idOf.end() || it->second != tok.id)
        return f.fail(at, "id " + std::to_string(tok.id) + " is model.vocab's token " +
                              quote(t.bytesOf[size_t(tok.id)]) + ", not " + quote(tok.content));
    } else {
      ++beyond;
    }
    all.push_back(tok);
    // normalized: matched after the normalizer (which then runs over the
    // content too); without a normalizer the two are the same.
    if (tok.normalized && !t.normalizer.empty()) {
      AddedToken n = tok;
      n.content = normalize(t.normalizer, tok.content);
      if (n.content.empty() || n.content.size() > kMaxAddedTokenBytes)
        return f.fail(at + ".content", "normalized to " + std::to_string(n.content.size()) + " bytes");
      t.addedNormalized.add(n);
    } else {
      t.added.add(tok);
    }
  }
  // Ids past the model's: exactly modelSize..modelSize+K-1, so the id
  // table is no larger than the file.
  std::vector<bool> taken(beyond, false);
  for (const AddedToken &tok : all) {
    if (tok.id < modelSize)
      continue;
    size_t k = size_t(tok.id - modelSize);
    if (k >= beyond || taken[k])
      return f.fail("added_tokens", "id " + std::to_string(tok.id) + " of " + quote(tok.content) +
                                        (k >= beyond ? " leaves a gap after model.vocab's " +
                                                           std::to_string(modelSize) + " ids"
                                                     : " is given twice"));
    taken[k] = true;
  }
  t.bytesOf.resize(size_t(modelSize) + beyond);
  t.special.resize(t.bytesOf.size(), 0);
  for (const AddedToken &tok : all) {
    t.bytesOf[size_t(tok.id)] = tokenBytes(t.decoder, tok.content, /*added=*/true);
    t.special[size_t(tok.id)] = tok.special;
  }
  return true;
}

// ---- post_processor --------------------------------------------------------

bool parseTemplate(const Fields &f, const json &p, const std::string &field, xfmr_tokenizer &t) {
  const json *single = Fields::get(p, "single");
  const json *specials = Fields::get(p, "special_tokens");
  if (!f.array(single, field + ".single") || !f.object(specials, field + ".special_tokens"))
    return false;
  bool seenA = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const json &item = (*single)[i];
    std::string at = field + ".single[" + std::to_string(i) + "]";
    if (!f.object(&item, at))
      return false;
    if (const json *seq = Fields::get(item, "Sequence")) {
      std::string id;
      if (!f.object(seq, at + ".Sequence") || !f.string(*seq, "id", at + ".Sequence.id", &id))
        return false;
      if (id != "A" || seenA)
        return f.fail(at, "a single template holds sequence A once");
      seenA = true;
      continue;
    }
    const json *special = Fields::get(item, "SpecialToken");
    std::string name;
    if (!f.object(special, at + ".SpecialToken") ||
        !f.string(*special, "id", at + ".SpecialToken.id", &name))
      return false;
    auto entry = specials->find(name);
    std::string where = field + ".special_tokens." + name;
    const json *ids = entry != specials->end() && entry->is_object() ? Fields::get(*entry, "ids") : nullptr;
    if (!ids)
      return f.fail(at, quote(name) + " is not in " + field + ".special_tokens");
    if (!f.array(ids, where + ".ids"))
      return false;
    std::vector<int32_t> &side = seenA ? t.suffix : t.prefix;
    for (const json &id : *ids) {
      if (!id.is_number_unsigned() || id.get<uint64_t>() >= uint64_t(t.vocabSize()))
        return f.fail(where + ".ids", "an id outside 0.." + std::to_string(t.vocabSize() - 1));
      if (t.prefix.size() + t.suffix.size() >= kMaxTemplateIds)
        return f.fail(field + ".single", "more than " + std::to_string(kMaxTemplateIds) + " ids");
      side.push_back(int32_t(id.get<uint64_t>()));
    }
  }
  return seenA ? true : f.fail(field + ".single", "no sequence A");
}

bool parsePostProcessor(const Fields &f, const json &p, const std::string &field,
                        xfmr_tokenizer &t) {
  std::string type;
  if (!f.type(p, field, &type))
    return false;
  if (type == "ByteLevel") // changes offsets only
    return true;
  if (type == "TemplateProcessing")
    return parseTemplate(f, p, field, t);
  if (type == "Sequence") {
    const json *list = Fields::get(p, "processors");
    if (!f.array(list, field + ".processors"))
      return false;
    for (size_t i = 0; i < list->size(); ++i)
      if (!parsePostProcessor(f, (*list)[i], field + ".processors[" + std::to_string(i) + "]", t))
        return false;
    return true;
  }
  return f.unsupported(field + ".type", "post-processor " + quote(type),
                       "supported: TemplateProcessing, ByteLevel, Sequence");
}

// ---- tokenizer_config.json -----------------------------------------------

/// The id of a token the config names: "text" or {"content": "text", ...}.
bool tokenId(const Fields &f, const json &v, const std::string &field, const xfmr_tokenizer &t,
             const std::unordered_map<std::string, int32_t> &addedIds, int32_t *id) {
  const json *content = v.is_object() ? Fields::get(v, "content") : &v;
  if (!content || !content->is_string())
    return f.fail(field, "expected a string, {\"content\": ...} or null");
  const std::string &s = content->get_ref<const std::string &>();
  auto added = addedIds.find(s);
  auto model = t.model.idOf.find(s);
  if (added == addedIds.end() && model == t.model.idOf.end())
    return f.fail(field, quote(s) + " is not a token of tokenizer.json");
  *id = added != addedIds.end() ? added->second : model->second;
  return true;
}

/// A special token named by the config, or null (-1).
bool configToken(const Fields &f, const json &config, const char *key, const xfmr_tokenizer &t,
                 const std::unordered_map<std::string, int32_t> &addedIds, int32_t *id) {
  *id = -1;
  const json *v = Fields::get(config, key);
  return !v || tokenId(f, *v, key, t, addedIds, id);
}

bool parseConfig(const Fields &f, const json &config, xfmr_tokenizer &t,
                 const std::unordered_map<std::string, int32_t> &addedIds) {
  if (!config.is_object())
    return f.fail("(top level)", "expected an object");
  if (!configToken(f, config, "bos_token", t, addedIds, &t.bos) ||
      !configToken(f, config, "eos_token", t, addedIds, &t.eos) ||
      !f.boolean(config, "clean_up_tokenization_spaces", "clean_up_tokenization_spaces", false,
                 &t.cleanUpSpaces))
    return false;
  // add_bos_token / add_eos_token, where given, decide what surrounds a text
  // (transformers' Llama tokenizers rebuild the template from them).
  bool hasBos = Fields::get(config, "add_bos_token"), hasEos = Fields::get(config, "add_eos_token");
  if (hasBos || hasEos) {
    bool addBos = false, addEos = false;
    if (!f.boolean(config, "add_bos_token", "add_bos_token", false, &addBos) ||
        !f.boolean(config, "add_eos_token", "add_eos_token", false, &addEos))
      return false;
    if (addBos && t.bos < 0)
      return f.fail("add_bos_token", "true, but there is no bos_token");
    if (addEos && t.eos < 0)
      return f.fail("add_eos_token", "true, but there is no eos_token");
    t.prefix.clear();
    t.suffix.clear();
    if (addBos)
      t.prefix.push_back(t.bos);
    if (addEos)
      t.suffix.push_back(t.eos);
  }
  // More special tokens (skipped by decoding on request, as Hugging Face's).
  if (const json *more = Fields::get(config, "additional_special_tokens")) {
    if (!f.array(more, "additional_special_tokens"))
      return false;
    for (size_t i = 0; i < more->size(); ++i) {
      int32_t id = -1;
      if (!tokenId(f, (*more)[i], "additional_special_tokens[" + std::to_string(i) + "]", t,
                   addedIds, &id))
        return false;
      t.special[size_t(id)] = 1;
    }
  }
  return true;
}
} // namespace

bool loadHfFiles(const std::string &tokenizerJson, const std::string &configJson, bool haveConfig,
                 const std::string &name, xfmr_tokenizer &t, std::string *error) {
  std::string path = name + "/tokenizer.json";
  Fields f(path, error);
  json root;
  if (!parseJson(tokenizerJson, path, &root, error))
    return false;
  if (!root.is_object())
    return f.fail("(top level)", "expected an object");
  // The pipeline first: whether the model works on bytes or characters,
  // and how tokens decode, decide how the vocabulary is read.
  if (const json *n = Fields::get(root, "normalizer"))
    if (!parseNormalizer(f, *n, "normalizer", t.normalizer))
      return false;
  if (const json *p = Fields::get(root, "pre_tokenizer"))
    if (!parsePreTokenizer(f, *p, "pre_tokenizer", t.preTokenizer))
      return false;
  bool byteLevel = !t.preTokenizer.empty() && t.preTokenizer.back().kind == PreTokenizeStep::ByteLevel;
  t.model.alphabet = byteLevel ? Alphabet::Bytes : Alphabet::Chars;
  const json *decoder = Fields::get(root, "decoder");
  if (!decoder)
    return f.unsupported("decoder", "a missing or null decoder");
  if (!parseDecoder(f, *decoder, "decoder", t.decoder))
    return false;
  if (t.decoder.byteLevel != byteLevel)
    return f.fail("decoder", byteLevel ? "a ByteLevel pre-tokenizer needs the ByteLevel decoder"
                                       : "the ByteLevel decoder needs a ByteLevel pre-tokenizer");
  std::unordered_map<std::string, int32_t> addedIds;
  if (!parseModel(f, root, t))
    return false;
  t.special.assign(t.bytesOf.size(), 0);
  if (!parseAddedTokens(f, root, t, addedIds))
    return false;
  if (const json *p = Fields::get(root, "post_processor"))
    if (!parsePostProcessor(f, *p, "post_processor", t))
      return false;
  if (haveConfig) {
    std::string configPath = name + "/tokenizer_config.json";
    Fields fc(configPath, error);
    json config;
    if (!parseJson(configJson, configPath, &config, error) ||
        !parseConfig(fc, config, t, addedIds))
      return false;
  }
  // Encoding looks up the model's tokens by text only for characters or
  // ignore_merges; otherwise the table only served loading.
  if (t.model.alphabet == Alphabet::Bytes && !t.model.ignoreMerges)
    std::unordered_map<std::string, int32_t>().swap(t.model.idOf);
  return true;
}

} // namespace xfmr::tok

// Tokenizers from Hugging Face's tokenizer.json (+ tokenizer_config.json):
// the real files of three model families (scripts/setup.sh fetches them into
// third_party/tokenizers/) against the ids and decodings Hugging Face's own
// JS implementation gives (tokenizer_refs/record.mjs recorded them), the
// streaming decoder on characters cut between tokens, and small synthetic
// files for each component and each refusal.
#include "tokenizer/decoder.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer_load.h"
#include "xfmr/runtime.h"

#include "../support/tokenizer_calls.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {
using json = nlohmann::json;
using namespace tokenizer_calls;

/// Feeds the ids one at a time; *pieces gets what each call returned.
std::string stream(xfmr_tokenizer *t, const Ids &ids, unsigned flags,
                   std::vector<std::string> *pieces = nullptr) {
  xfmr_detokenizer *d = xfmr_detokenizer_create(t, flags);
  EXPECT_NE(d, nullptr);
  std::string text;
  for (int32_t id : ids) {
    size_t len = 0;
    const char *b = xfmr_detokenizer_feed(d, id, &len);
    EXPECT_NE(b, nullptr) << xfmr_last_error();
    if (b) {
      text.append(b, len);
      if (pieces)
        pieces->push_back(std::string(b, len));
    }
  }
  size_t len = 0;
  const char *tail = xfmr_detokenizer_flush(d, &len);
  text.append(tail, len);
  xfmr_detokenizer_free(d);
  return text;
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

// ---- The real files against Hugging Face's JS tokenizers -----------------

struct Family {
  const char *name;
  int32_t bos, eos;
};

/// Each family's tokenizer, loaded once for all its tests (a second each).
xfmr_tokenizer *loadFamily(const std::string &name) {
  static std::map<std::string, std::unique_ptr<xfmr_tokenizer, void (*)(xfmr_tokenizer *)>> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) {
    std::string dir = XFMR_TOKENIZERS_DIR "/" + name;
    it = loaded.emplace(name, std::unique_ptr<xfmr_tokenizer, void (*)(xfmr_tokenizer *)>(
                                  xfmr_tokenizer_load(dir.c_str()), xfmr_tokenizer_free))
             .first;
  }
  return it->second.get();
}

class RealTokenizer : public ::testing::TestWithParam<Family> {
protected:
  void SetUp() override {
    tok = loadFamily(GetParam().name);
    ASSERT_NE(tok, nullptr) << xfmr_last_error() << " (scripts/setup.sh fetches the files)";
    std::string refPath = std::string(XFMR_TOKENIZER_REFS_DIR "/") + GetParam().name + ".json";
    refs = json::parse(readAll(refPath), nullptr, false);
    ASSERT_TRUE(refs.is_object()) << refPath;
  }
  xfmr_tokenizer *tok = nullptr;
  json refs;
};

TEST_P(RealTokenizer, GivesHuggingFacesIds) {
  size_t n = 0;
  for (const json &r : refs["texts"]) {
    std::string text = r["text"];
    EXPECT_EQ(encode(tok, text), r["ids"].get<Ids>()) << "text: '" << text << "'";
    EXPECT_EQ(encode(tok, text, XFMR_TOKENIZE_NO_SPECIAL), r["ids_no_special"].get<Ids>())
        << "without special tokens, text: '" << text << "'";
    ++n;
  }
  EXPECT_GE(n, 45u);
}

TEST_P(RealTokenizer, DecodesAsHuggingFaceDoes) {
  for (const json &r : refs["texts"]) {
    std::string text = r["text"];
    Ids ids = r["ids"];
    if (r["decoded"].is_null()) { // HF's decode() takes no empty list; ours gives ""
      EXPECT_EQ(decode(tok, ids), "");
      continue;
    }
    EXPECT_EQ(decode(tok, ids), r["decoded"].get<std::string>()) << "text: '" << text << "'";
    std::string skipped = r["decoded_skip_special"];
    EXPECT_EQ(decode(tok, ids, XFMR_DECODE_SKIP_SPECIAL), skipped) << "text: '" << text << "'";
    // Round trips where Hugging Face's does.
    if (skipped == text)
      EXPECT_EQ(decode(tok, encode(tok, text), XFMR_DECODE_SKIP_SPECIAL), text);
  }
}

TEST_P(RealTokenizer, StreamsWhatDecodeGives) {
  for (const json &r : refs["texts"]) {
    Ids ids = r["ids"];
    for (unsigned flags : {0u, unsigned(XFMR_DECODE_SKIP_SPECIAL)}) {
      std::vector<std::string> pieces;
      std::string text = stream(tok, ids, flags, &pieces);
      std::string whole = decode(tok, ids, flags);
      // Streaming leaves out clean_up_tokenization_spaces (Llama 3's asks).
      if (tok->cleanUpSpaces)
        text = xfmr::tok::cleanUpTokenizationSpaces(text);
      EXPECT_EQ(text, whole) << r["text"];
      for (const std::string &p : pieces)
        EXPECT_TRUE(validUtf8(p)) << "a piece of '" << r["text"] << "' is not whole UTF-8";
    }
  }
}

TEST_P(RealTokenizer, HoldsBackCharactersCutBetweenTokens) {
  // Emoji are 4 bytes: byte fallback gives one token per byte (Llama 2) and
  // byte-level BPE splits some of them (Llama 3, Qwen3).
  std::string text = "emoji \xf0\x9f\x91\x8b\xf0\x9f\x8c\x8d test \xe6\x97\xa5\xe6\x9c\xac "
                     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
  Ids ids = encode(tok, text, XFMR_TOKENIZE_NO_SPECIAL);
  std::vector<std::string> pieces;
  EXPECT_EQ(stream(tok, ids, 0, &pieces), text);
  for (const std::string &p : pieces)
    EXPECT_TRUE(validUtf8(p)) << p;
  // After each prefix of the ids whose bytes end inside a character, the
  // stream holds that part back: flushing there gives one U+FFFD.
  std::string raw;
  int cuts = 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    size_t len = 0;
    const char *b = xfmr_token_bytes(tok, ids[k], &len);
    ASSERT_NE(b, nullptr);
    raw.append(b, len);
    if (validUtf8(raw))
      continue;
    ++cuts;
    Ids prefix(ids.begin(), ids.begin() + long(k) + 1);
    std::string streamed = stream(tok, prefix, 0);
    EXPECT_EQ(streamed.substr(streamed.size() - 3), "\xef\xbf\xbd") << k;
    EXPECT_EQ(streamed.find("\xef\xbf\xbd"), streamed.size() - 3) << k;
  }
  EXPECT_GT(cuts, 0) << "no token of the text cut a character";

  xfmr_detokenizer *d = xfmr_detokenizer_create(tok, 0);
  size_t len = 0;
  xfmr_detokenizer_reset(d);
  EXPECT_EQ(std::string(xfmr_detokenizer_flush(d, &len), len), "");
  EXPECT_EQ(xfmr_detokenizer_feed(d, -1, &len), nullptr);
  EXPECT_EQ(xfmr_detokenizer_feed(d, xfmr_tokenizer_vocab_size(tok), &len), nullptr);
  xfmr_detokenizer_free(d);
}

TEST_P(RealTokenizer, NamesBosAndEos) {
  EXPECT_EQ(xfmr_tokenizer_bos(tok), GetParam().bos);
  EXPECT_EQ(xfmr_tokenizer_eos(tok), GetParam().eos);
  if (GetParam().eos >= 0)
    EXPECT_TRUE(xfmr_token_is_special(tok, GetParam().eos));
  EXPECT_FALSE(xfmr_token_is_special(tok, -1));
}

TEST_P(RealTokenizer, TokenBytesSpellTheText) {
  std::string text = "Hello, world! caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac";
  std::string bytes;
  for (int32_t id : encode(tok, text, XFMR_TOKENIZE_NO_SPECIAL)) {
    size_t len = 0;
    const char *b = xfmr_token_bytes(tok, id, &len);
    ASSERT_NE(b, nullptr) << id;
    bytes.append(b, len);
  }
  // SentencePiece tokens carry the leading space that decoding strips.
  EXPECT_TRUE(bytes == text || bytes == " " + text) << bytes;
}

TEST_P(RealTokenizer, SpecialTokensAsText) {
  std::string text = refs["texts"][0]["text"]; // any text; then its special-token texts
  for (const char *special : {"<s>", "</s>", "<|begin_of_text|>", "<|im_start|>", "<|endoftext|>"}) {
    Ids asText = encode(tok, special, XFMR_TOKENIZE_NO_SPECIAL | XFMR_TOKENIZE_SPECIAL_AS_TEXT);
    for (int32_t id : asText)
      EXPECT_FALSE(xfmr_token_is_special(tok, id)) << special;
    EXPECT_EQ(decode(tok, asText), special);
  }
}

INSTANTIATE_TEST_SUITE_P(Files, RealTokenizer,
                         ::testing::Values(Family{"llama2", 1, 2},
                                           Family{"llama3", 128000, 128001},
                                           Family{"qwen3", -1, 151645}),
                         [](const ::testing::TestParamInfo<Family> &p) { return std::string(p.param.name); });

// Llama 3 as Meta's current file has it: a TemplateProcessing that puts
// <|begin_of_text|> first (the packaged file has the ByteLevel one).
TEST(RealTokenizerVariants, Llama3TemplateAddsBeginOfText) {
  std::string dir = XFMR_TOKENIZERS_DIR "/llama3";
  json j = json::parse(readAll(dir + "/tokenizer.json"));
  j["post_processor"] = json::parse(R"({"type": "Sequence", "processors": [
      {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
      {"type": "TemplateProcessing",
       "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}}],
       "pair": [],
       "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                "tokens": ["<|begin_of_text|>"]}}}]})");
  std::string config = readAll(dir + "/tokenizer_config.json"), err;
  xfmr_tokenizer *t = loadHfTokenizerFromText(j.dump(), &config, "llama3-template", &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "Hello, world!"), (Ids{128000, 9906, 11, 1917, 0}));
  EXPECT_EQ(encode(t, "Hello, world!", XFMR_TOKENIZE_NO_SPECIAL), (Ids{9906, 11, 1917, 0}));
  EXPECT_EQ(encode(t, ""), (Ids{128000}));
  EXPECT_EQ(decode(t, encode(t, "Hello"), XFMR_DECODE_SKIP_SPECIAL), "Hello");
  EXPECT_EQ(decode(t, encode(t, "Hello")), "<|begin_of_text|>Hello");
  xfmr_tokenizer_free(t);
}

TEST(RealTokenizerVariants, TokenizerJsonTakesPrecedence) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("xfmr-hf-prec-" + std::to_string(getpid()));
  fs::create_directories(d);
  fs::copy_file(XFMR_TOKENIZERS_DIR "/qwen3/tokenizer.json", d / "tokenizer.json",
                fs::copy_options::overwrite_existing);
  std::ofstream(d / "vocab.json") << "not json";
  std::ofstream(d / "merges.txt") << "x y\n";
  xfmr_tokenizer *t = xfmr_tokenizer_load(d.c_str());
  EXPECT_NE(t, nullptr) << xfmr_last_error();
  if (t)
    EXPECT_EQ(encode(t, "Hello, world!"), (Ids{9707, 11, 1879, 0}));
  EXPECT_EQ(xfmr_tokenizer_bos(t), -1); // no tokenizer_config.json
  xfmr_tokenizer_free(t);
  fs::remove_all(d);
}

// ---- Unicode ---------------------------------------------------------------

TEST(TokenizerUnicode, ClassesAreUnicodes) {
  using xfmr::tok::CharClass;
  using xfmr::tok::classify;
  EXPECT_EQ(classify('a'), CharClass::Letter);
  EXPECT_EQ(classify(0xE9), CharClass::Letter);   // é
  EXPECT_EQ(classify(0x65E5), CharClass::Letter); // 日
  EXPECT_EQ(classify(0x0663), CharClass::Number); // Arabic-Indic three
  EXPECT_EQ(classify(0x2167), CharClass::Number); // Roman numeral eight (Nl)
  EXPECT_EQ(classify(0xB2), CharClass::Number);   // superscript two (No)
  EXPECT_EQ(classify(0xA0), CharClass::Space);    // no-break space
  EXPECT_EQ(classify(0x85), CharClass::Space);
  EXPECT_EQ(classify(0x3000), CharClass::Space);
  EXPECT_EQ(classify(0x1C), CharClass::Other);    // not White_Space
  EXPECT_EQ(classify(0x301), CharClass::Other);   // a mark is not a letter
  EXPECT_EQ(classify(0x1F44B), CharClass::Other); // 👋
  EXPECT_EQ(classify(0x10FFFF), CharClass::Other);
}

TEST(TokenizerUnicode, Nfc) {
  using xfmr::tok::toNfc;
  EXPECT_EQ(toNfc("e\xcc\x81"), "\xc3\xa9");                    // e + acute -> é
  EXPECT_EQ(toNfc("\xe2\x84\xab"), "\xc3\x85");                  // Angstrom sign -> Å
  EXPECT_EQ(toNfc("\xe1\xb8\x8b\xcc\xa3"), "\xe1\xb8\x8d\xcc\x87"); // ḋ + dot below -> ḍ + dot above
  EXPECT_EQ(toNfc("\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8"), "\xea\xb0\x81"); // jamo -> 각
  EXPECT_EQ(toNfc("\xea\xb0\x81"), "\xea\xb0\x81");
  EXPECT_EQ(toNfc("\xcd\x84"), "\xcc\x88\xcc\x81");              // U+0344 (excluded) -> two marks
  EXPECT_EQ(toNfc("a\xff\xcc\x81z"), "a\xff\xcc\x81z");          // an invalid byte stays, blocks nothing odd
  EXPECT_EQ(toNfc("plain ASCII"), "plain ASCII");
  EXPECT_EQ(toNfc(""), "");
}

// ---- Synthetic tokenizer.json files ------------------------------------------

/// A small byte-level tokenizer.json: tokens for the printable ASCII bytes
/// and a few merges; fields are replaced by the tests.
json byteLevelJson() {
  json vocab = json::object();
  int id = 0;
  json j = json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [],
    "normalizer": null,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
    "post_processor": null,
    "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
    "model": {"type": "BPE", "dropout": null, "unk_token": null, "fuse_unk": false,
              "byte_fallback": false, "ignore_merges": false, "vocab": {}, "merges": []}
  })");
  auto add = [&](const std::string &tok) { vocab[tok] = id++; };
  for (const char *t : {"a", "b", "c", "h", "i", "Ġ", "ab", "abc", "hi", "Ġhi"})
    add(t);
  j["model"]["vocab"] = vocab;
  j["model"]["merges"] = json::parse(R"(["a b", "ab c", "h i", ["Ġ", "hi"]])");
  return j;
}

/// A small SentencePiece-style tokenizer.json (Llama 2's layout).
json sentencePieceJson() {
  return json::parse(R"({
    "version": "1.0",
    "added_tokens": [
      {"id": 0, "content": "<unk>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false},
      {"id": 1, "content": "<s>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false},
      {"id": 2, "content": "</s>", "special": true, "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}],
    "normalizer": {"type": "Sequence", "normalizers": [
      {"type": "Prepend", "prepend": "▁"},
      {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
    "pre_tokenizer": null,
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
      {"type": "ByteFallback"}, {"type": "Fuse"},
      {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "fuse_unk": true,
      "byte_fallback": true,
      "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "<0x0A>": 3, "<0xC3>": 4, "<0xA9>": 5,
                "▁": 6, "a": 7, "b": 8, "▁a": 9, "▁ab": 10, "ab": 11},
      "merges": ["▁ a", "▁a b", "a b"]}
  })");
}

xfmr_tokenizer *load(const json &j, std::string *err, const json *config = nullptr) {
  std::string c = config ? config->dump() : "";
  return loadHfTokenizerFromText(j.dump(), config ? &c : nullptr, "syn", err);
}

TEST(HfSynthetic, ByteLevelBpe) {
  std::string err;
  xfmr_tokenizer *t = load(byteLevelJson(), &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "abc hi"), (Ids{7, 9}));
  EXPECT_EQ(encode(t, "abz"), (Ids{6})); // a byte without a token is left out
  EXPECT_EQ(decode(t, {7, 9}), "abc hi");
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, IgnoreMergesTakesAWordThatIsAToken) {
  json j = byteLevelJson();
  // "abc" is a token, but the merges cannot reach it from "a b c" in this
  // order: ignore_merges takes it whole.
  j["model"]["merges"] = json::parse(R"(["b c", "a b"])");
  j["model"]["vocab"]["bc"] = 10;
  std::string err;
  xfmr_tokenizer *t = load(j, &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "abc"), (Ids{0, 10}));
  xfmr_tokenizer_free(t);
  j["model"]["ignore_merges"] = true;
  t = load(j, &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "abc"), (Ids{7}));
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, SentencePieceWithByteFallback) {
  std::string err;
  xfmr_tokenizer *t = load(sentencePieceJson(), &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "ab a"), (Ids{1, 10, 9}));
  EXPECT_EQ(encode(t, "ab a", XFMR_TOKENIZE_NO_SPECIAL), (Ids{10, 9}));
  EXPECT_EQ(encode(t, "a\n\xc3\xa9"), (Ids{1, 9, 3, 4, 5})); // \n and é by their bytes
  EXPECT_EQ(encode(t, "a\xe2\x82\xac\xe2\x82\xac" "b"), (Ids{1, 9, 0, 8})); // € has no bytes: one unk (fused)
  EXPECT_EQ(encode(t, "<s>a</s>"), (Ids{1, 1, 9, 2}));
  EXPECT_EQ(decode(t, {1, 10, 9}), "<s> ab a");
  EXPECT_EQ(decode(t, {1, 10, 9}, XFMR_DECODE_SKIP_SPECIAL), "ab a");
  EXPECT_EQ(decode(t, {9, 3, 4, 5}), "a\n\xc3\xa9");
  EXPECT_EQ(decode(t, {9, 4}), "a\xef\xbf\xbd"); // a cut é
  EXPECT_EQ(xfmr_tokenizer_bos(t), -1); // no tokenizer_config.json
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, ConfigDecidesBosAndEos) {
  std::string err;
  json config = json::parse(R"({"add_bos_token": false, "add_eos_token": true,
      "bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false},
      "clean_up_tokenization_spaces": false})");
  xfmr_tokenizer *t = load(sentencePieceJson(), &err, &config);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "a"), (Ids{9, 2}));
  EXPECT_EQ(encode(t, "a", XFMR_TOKENIZE_NO_SPECIAL), (Ids{9}));
  EXPECT_EQ(xfmr_tokenizer_bos(t), 1);
  EXPECT_EQ(xfmr_tokenizer_eos(t), 2);
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, MetaspacePreTokenizer) {
  json j = sentencePieceJson();
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = json::parse(
      R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false})");
  j["decoder"] = json::parse(
      R"({"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false})");
  std::string err;
  xfmr_tokenizer *t = load(j, &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "ab a", XFMR_TOKENIZE_NO_SPECIAL), (Ids{10, 9}));
  // "first": only the run that starts the text gets the "▁".
  EXPECT_EQ(encode(t, "<s>ab", XFMR_TOKENIZE_NO_SPECIAL), (Ids{1, 11}));
  EXPECT_EQ(decode(t, {10, 9}), "ab a");
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, AddedTokenFlags) {
  json j = byteLevelJson();
  j["added_tokens"] = json::parse(R"([
      {"id": 10, "content": "<L>", "special": true, "lstrip": true, "rstrip": false, "normalized": false},
      {"id": 11, "content": "<R>", "special": false, "lstrip": false, "rstrip": true, "normalized": false},
      {"id": 12, "content": "<LR>", "special": true, "lstrip": true, "rstrip": true, "normalized": false}])");
  std::string err;
  xfmr_tokenizer *t = load(j, &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encode(t, "hi  <L>  hi"), (Ids{8, 10, 5, 9})); // lstrip takes the spaces before
  EXPECT_EQ(encode(t, "hi  <R>  hi"), (Ids{8, 5, 5, 11, 8})); // rstrip those after
  EXPECT_EQ(encode(t, "a <LR> b"), (Ids{0, 12, 1}));
  EXPECT_EQ(encode(t, "<LR>"), (Ids{12}));
  EXPECT_EQ(encode(t, "<L", XFMR_TOKENIZE_SPECIAL_AS_TEXT).size(), 0u); // '<' 'L' have no tokens
  EXPECT_EQ(encode(t, "<R>", XFMR_TOKENIZE_SPECIAL_AS_TEXT), (Ids{11})); // not special: still a token
  EXPECT_TRUE(xfmr_token_is_special(t, 10));
  EXPECT_FALSE(xfmr_token_is_special(t, 11));
  EXPECT_EQ(decode(t, {3, 4, 10, 11}), "hi<L><R>");
  EXPECT_EQ(decode(t, {3, 4, 10, 11}, XFMR_DECODE_SKIP_SPECIAL), "hi<R>");
  xfmr_tokenizer_free(t);
}

TEST(HfSynthetic, NormalizedAddedTokenMatchesTheNormalizedText) {
  json j = sentencePieceJson();
  j["added_tokens"].push_back(json::parse(
      R"({"id": 12, "content": "ba", "special": false, "lstrip": false, "rstrip": false, "normalized": true})"));
  std::string err;
  xfmr_tokenizer *t = load(j, &err);
  ASSERT_NE(t, nullptr) << err;
  // The normalizer prepends "▁" to the content too: "▁ba" is what matches.
  EXPECT_EQ(encode(t, "ba", XFMR_TOKENIZE_NO_SPECIAL), (Ids{12}));
  EXPECT_EQ(encode(t, "a ba", XFMR_TOKENIZE_NO_SPECIAL), (Ids{9, 12}));
  xfmr_tokenizer_free(t);
}

// ---- Refusals: one line naming the file and the field ---------------------------

void expectRefused(const json &j, const std::string &fragment, const json *config = nullptr) {
  std::string err;
  xfmr_tokenizer *t = load(j, &err, config);
  EXPECT_EQ(t, nullptr) << "loaded, expected: " << fragment;
  xfmr_tokenizer_free(t);
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  std::string file = config ? "syn/tokenizer_config.json: " : "syn/tokenizer.json: ";
  EXPECT_EQ(err.rfind(file, 0), 0u) << err;
  EXPECT_NE(err.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << err;
}

TEST(HfRefuses, UnknownComponents) {
  json j = byteLevelJson();
  j["model"]["type"] = "Unigram";
  expectRefused(j, "model.type: model 'Unigram' is not supported (only BPE)");
  j = byteLevelJson();
  j["normalizer"] = json::parse(R"({"type": "Lowercase"})");
  expectRefused(j, "normalizer.type: normalizer 'Lowercase' is not supported");
  j = byteLevelJson();
  j["normalizer"] = json::parse(R"({"type": "Sequence", "normalizers": [{"type": "NFKC"}]})");
  expectRefused(j, "normalizer.normalizers[0].type: normalizer 'NFKC'");
  j = byteLevelJson();
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+|\\s+";
  expectRefused(j, "pre_tokenizer.pretokenizers[0].pattern.Regex: the regex '\\x5cw+|\\x5cs+' is not supported");
  j = byteLevelJson();
  j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  expectRefused(j, "pre_tokenizer.pretokenizers[0].behavior: behavior 'Removed'");
  j = byteLevelJson();
  j["pre_tokenizer"] = json::parse(R"({"type": "Whitespace"})");
  expectRefused(j, "pre_tokenizer.type: pre-tokenizer 'Whitespace'");
  j = byteLevelJson();
  j["decoder"] = json::parse(R"({"type": "WordPiece"})");
  expectRefused(j, "decoder.type: decoder 'WordPiece'");
  j = byteLevelJson();
  j["decoder"] = nullptr;
  expectRefused(j, "decoder: a missing or null decoder is not supported");
  j = sentencePieceJson();
  j["decoder"] = json::parse(R"({"type": "ByteLevel"})");
  expectRefused(j, "decoder: the ByteLevel decoder needs a ByteLevel pre-tokenizer");
  j = sentencePieceJson();
  j["post_processor"] = json::parse(R"({"type": "BertProcessing"})");
  expectRefused(j, "post_processor.type: post-processor 'BertProcessing'");
  j = byteLevelJson();
  j["model"]["dropout"] = 0.1;
  expectRefused(j, "model.dropout: BPE dropout");
  j = byteLevelJson();
  j["model"]["continuing_subword_prefix"] = "##";
  expectRefused(j, "model.continuing_subword_prefix: a non-empty");
}

TEST(HfRefuses, BadVocabularyAndMerges) {
  json j = byteLevelJson();
  j["model"]["vocab"]["zz"] = 99;
  expectRefused(j, "model.vocab: the id of token 'zz' is not one of 0..10");
  j = byteLevelJson();
  j["model"]["vocab"]["zz"] = -1;
  expectRefused(j, "model.vocab: the id of token 'zz'");
  j = byteLevelJson();
  j["model"]["vocab"]["zz"] = 3;
  expectRefused(j, "is given twice");
  j = byteLevelJson();
  j["model"]["vocab"] = json::object();
  expectRefused(j, "model.vocab: no tokens");
  j = byteLevelJson();
  j["model"]["merges"].push_back("c a");
  expectRefused(j, "model.merges[4]: result 'ca' is not a token of model.vocab");
  j = byteLevelJson();
  j["model"]["merges"].push_back("x a");
  expectRefused(j, "model.merges[4]: part 'x' is not a token");
  j = byteLevelJson();
  j["model"]["merges"].push_back("a b c");
  expectRefused(j, "model.merges[4]: not a merge 'A B'");
  j = byteLevelJson();
  j["model"]["merges"].push_back(json::array({"a"}));
  expectRefused(j, "model.merges[4]: expected");
  j = byteLevelJson();
  j["model"]["merges"] = "a b";
  expectRefused(j, "model.merges: expected an array");
  j = byteLevelJson();
  j["model"]["unk_token"] = "<unk>";
  expectRefused(j, "model.unk_token: '<unk>' is not a token");
  j = byteLevelJson();
  j["model"]["byte_fallback"] = "yes";
  expectRefused(j, "model.byte_fallback: expected true or false");
  j = byteLevelJson();
  j.erase("model");
  expectRefused(j, "model: expected an object");
}

TEST(HfRefuses, BadAddedTokens) {
  auto with = [](const char *added) {
    json j = byteLevelJson();
    j["added_tokens"] = json::parse(added);
    return j;
  };
  expectRefused(with(R"([{"id": 12, "content": "<x>"}])"), "leaves a gap after model.vocab's 10 ids");
  expectRefused(with(R"([{"id": 11, "content": "<x>"}, {"id": 11, "content": "<y>"}])"), "is given twice");
  expectRefused(with(R"([{"id": 11, "content": "<x>"}, {"id": 12, "content": "<x>"}])"),
                "added_tokens[1].content: '<x>' is added twice");
  expectRefused(with(R"([{"id": 3, "content": "<x>"}])"), "added_tokens[0]: id 3 is model.vocab's token 'h', not '<x>'");
  expectRefused(with(R"([{"id": 11, "content": ""}])"), "added_tokens[0].content: expected 1..1024 bytes");
  expectRefused(with(R"([{"id": 11}])"), "added_tokens[0].content: missing");
  expectRefused(with(R"([{"content": "<x>"}])"), "added_tokens[0].id: missing");
  expectRefused(with(R"([{"id": -5, "content": "<x>"}])"), "added_tokens[0].id: expected an integer");
  expectRefused(with(R"([{"id": 11, "content": "<x>", "single_word": true}])"), "single_word: true is not supported");
  expectRefused(with(R"([{"id": 11, "content": "<x>", "special": 1}])"), "added_tokens[0].special: expected true or false");
  std::string longToken(2000, 'x');
  expectRefused(with(("[{\"id\": 11, \"content\": \"" + longToken + "\"}]").c_str()), "expected 1..1024 bytes, got 2000");
}

TEST(HfRefuses, BadTemplateAndConfig) {
  json j = sentencePieceJson();
  j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<bos>";
  expectRefused(j, "post_processor.single[0]: '<bos>' is not in post_processor.special_tokens");
  j = sentencePieceJson();
  j["post_processor"]["special_tokens"]["<s>"]["ids"] = json::array({12345});
  expectRefused(j, "post_processor.special_tokens.<s>.ids: an id outside 0..11");
  j = sentencePieceJson();
  j["post_processor"]["single"].erase(1);
  expectRefused(j, "post_processor.single: no sequence A");
  json config = json::parse(R"({"bos_token": "<bos>"})");
  expectRefused(sentencePieceJson(), "bos_token: '<bos>' is not a token of tokenizer.json", &config);
  config = json::parse(R"({"add_eos_token": true, "eos_token": null})");
  expectRefused(sentencePieceJson(), "add_eos_token: true, but there is no eos_token", &config);
  config = json::parse(R"({"bos_token": 7})");
  expectRefused(sentencePieceJson(), "bos_token: expected a string", &config);
  config = json::parse(R"([1])");
  expectRefused(sentencePieceJson(), "(top level): expected an object", &config);
  config = json::parse(R"({"additional_special_tokens": ["<nope>"]})");
  expectRefused(sentencePieceJson(), "additional_special_tokens[0]: '<nope>' is not a token", &config);
}

TEST(HfRefuses, NotJsonOrTooDeep) {
  std::string err;
  EXPECT_EQ(loadHfTokenizerFromText("{", nullptr, "syn", &err), nullptr);
  EXPECT_EQ(err, "syn/tokenizer.json: not valid JSON");
  EXPECT_EQ(loadHfTokenizerFromText(std::string(100000, '['), nullptr, "syn", &err), nullptr);
  EXPECT_EQ(err, "syn/tokenizer.json: JSON nested deeper than 64 levels");
  std::string good = sentencePieceJson().dump(), deep = std::string(1000, '[');
  EXPECT_EQ(loadHfTokenizerFromText(good, &deep, "syn", &err), nullptr);
  EXPECT_EQ(err, "syn/tokenizer_config.json: JSON nested deeper than 64 levels");
  EXPECT_EQ(loadHfTokenizerFromText("[]", nullptr, "syn", &err), nullptr);
  EXPECT_EQ(err, "syn/tokenizer.json: (top level): expected an object");
}

TEST(HfRefuses, UnreadableFilesInADirectory) {
  namespace fs = std::filesystem;
  fs::path d = fs::temp_directory_path() / ("xfmr-hf-dir-" + std::to_string(getpid()));
  fs::create_directories(d / "tokenizer.json");
  EXPECT_EQ(xfmr_tokenizer_load(d.c_str()), nullptr);
  EXPECT_NE(std::string(xfmr_last_error()).find("tokenizer.json: is a directory"), std::string::npos)
      << xfmr_last_error();
  fs::remove_all(d / "tokenizer.json");
  std::ofstream(d / "tokenizer.json") << sentencePieceJson().dump();
  fs::create_directories(d / "tokenizer_config.json");
  EXPECT_EQ(xfmr_tokenizer_load(d.c_str()), nullptr);
  EXPECT_NE(std::string(xfmr_last_error()).find("tokenizer_config.json: is a directory"),
            std::string::npos)
      << xfmr_last_error();
  std::string err;
  fs::remove_all(d / "tokenizer_config.json");
  EXPECT_EQ(loadTokenizerFromDir(d.string(), 100, &err), nullptr);
  EXPECT_NE(err.find("tokenizer.json: "), std::string::npos) << err;
  EXPECT_NE(err.find("more than the 100"), std::string::npos) << err;
  fs::remove_all(d);
}

TEST(HfDecode, CleanUpTokenizationSpaces) {
  using xfmr::tok::cleanUpTokenizationSpaces;
  EXPECT_EQ(cleanUpTokenizationSpaces("a . b ? c ! d , e ' f"), "a. b? c! d, e'f");
  EXPECT_EQ(cleanUpTokenizationSpaces("I do n't , I 'm , it 's , we 've , they 're"),
            "I don't, I'm, it's, we've, they're");
}

TEST(HfDecode, NullAndBadArguments) {
  std::string err;
  xfmr_tokenizer *t = load(sentencePieceJson(), &err);
  ASSERT_NE(t, nullptr) << err;
  int32_t bad[] = {9, 12};
  EXPECT_EQ(xfmr_detokenize(t, bad, 2, nullptr, 0, 0), -1);
  EXPECT_STREQ(xfmr_last_error(), "xfmr_detokenize: id 12 at index 1 is outside the vocabulary of 12");
  EXPECT_EQ(xfmr_detokenize(nullptr, bad, 1, nullptr, 0, 0), -1);
  EXPECT_EQ(xfmr_detokenize(t, nullptr, 1, nullptr, 0, 0), -1);
  EXPECT_EQ(xfmr_detokenize(t, nullptr, 0, nullptr, 0, 0), 0);
  char small[3];
  int32_t ok[] = {10, 9};
  EXPECT_EQ(xfmr_detokenize(t, ok, 2, small, sizeof small, 0), 4); // "ab a", cut to "ab"
  EXPECT_STREQ(small, "ab");
  EXPECT_EQ(xfmr_detokenizer_create(nullptr, 0), nullptr);
  EXPECT_EQ(xfmr_detokenizer_feed(nullptr, 0, nullptr), nullptr);
  EXPECT_EQ(xfmr_tokenizer_vocab_size(t), 12);
  EXPECT_EQ(xfmr_tokenizer_vocab_size(nullptr), -1);
  EXPECT_EQ(xfmr_tokenize_ex(t, nullptr, 5, nullptr, 0, 0), 1); // "" plus <s>
  std::string withNul("a\0b", 3);
  EXPECT_EQ(encode(t, withNul, XFMR_TOKENIZE_NO_SPECIAL), (Ids{9, 0, 8})); // NUL: unk
  xfmr_tokenizer_free(t);
}
} // namespace

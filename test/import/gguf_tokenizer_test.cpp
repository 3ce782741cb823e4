// GGUF tokenizer metadata (gguf_tokenizer.h): each real tokenizer.json of
// the Llama issue (third_party/tokenizers/{llama2,llama3,qwen3}) written as
// llama.cpp's metadata and read back gives the ids of the tokenizer.json
// itself on the recorded texts of the tokenizer tests; merges come back
// from SentencePiece scores as Hugging Face's converter makes them; and
// each malformed key is one line naming the file and the key.
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/runtime.h"

#include "llvm/Support/JSON.h"

#include "../support/tokenizer_calls.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <unistd.h>

using namespace xfmr::io;

namespace {
using KV = std::vector<std::pair<std::string, GGUFValue>>;
using namespace tokenizer_calls;
using Tokenizer = std::unique_ptr<xfmr_tokenizer, void (*)(xfmr_tokenizer *)>;

/// The value of `key` in `kv`, or nullptr.
const GGUFValue *findKey(const KV &kv, const std::string &key) {
  for (const auto &[k, v] : kv)
    if (k == key)
      return &v;
  return nullptr;
}

/// A fresh directory under the test's temp dir.
std::string tempDir(const std::string &name) {
  const char *base = std::getenv("TMPDIR");
  std::string d = std::string(base && *base ? base : "/tmp") + "/xfmr_gguf_tok_" +
                  std::to_string(::getpid()) + "_" + name;
  std::string cmd = "rm -rf '" + d + "' && mkdir -p '" + d + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return d;
}

/// The GGUF of `kv` (no tensors) read back as tokenizer files; *error on a
/// refusal.
bool convert(const KV &kv, TokenizerFiles *files, std::string *error) {
  std::vector<uint8_t> bytes;
  if (!encodeGGUF(kv, {}, &bytes, error))
    return false;
  auto f = GGUFFile::parse(bytes.data(), bytes.size(), "t.gguf", error);
  return f && tokenizerFilesFromGGUF(*f, files, error);
}

/// The files written into a directory and loaded by the runtime.
Tokenizer load(const TokenizerFiles &files, const std::string &name) {
  std::string dir = tempDir(name);
  for (const auto &[file, text] : files)
    std::ofstream(dir + "/" + file, std::ios::binary) << text;
  Tokenizer t(xfmr_tokenizer_load(dir.c_str()), xfmr_tokenizer_free);
  std::string cmd = "rm -rf '" + dir + "'"; // loaded: the runtime holds what it needs
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return t;
}

// ---- The real files: tokenizer.json -> GGUF metadata -> tokenizer.json --

struct Family {
  const char *name;
  int64_t vocab; // the model's: the token list is padded to it
  const char *model, *pre;
};

class RealTokenizer : public ::testing::TestWithParam<Family> {};

TEST_P(RealTokenizer, GivesTheIdsOfItsTokenizerJson) {
  const Family &fam = GetParam();
  std::string dir = std::string(XFMR_TOKENIZERS_DIR "/") + fam.name;
  Tokenizer hf(xfmr_tokenizer_load(dir.c_str()), xfmr_tokenizer_free);
  ASSERT_TRUE(hf) << xfmr_last_error() << " (scripts/setup.sh fetches the files)";

  GGUFTokenizerMetadata meta;
  std::string error;
  ASSERT_TRUE(ggufTokenizerFromHF(readAll(dir + "/tokenizer.json"),
                                  readAll(dir + "/tokenizer_config.json"), dir, fam.vocab, &meta,
                                  &error))
      << error;
  KV kv = meta.kv;
  auto find = [&](const char *key) { return findKey(kv, key); };
  ASSERT_NE(find("tokenizer.ggml.model"), nullptr);
  EXPECT_EQ(find("tokenizer.ggml.model")->s, fam.model);
  EXPECT_EQ(find("tokenizer.ggml.pre")->s, fam.pre);
  EXPECT_EQ(int64_t(find("tokenizer.ggml.tokens")->elements.size()), fam.vocab);
  // SentencePiece files carry scores, not merges; byte-level ones merges.
  EXPECT_EQ(find("tokenizer.ggml.scores") != nullptr, std::string(fam.model) == "llama");
  EXPECT_EQ(find("tokenizer.ggml.merges") != nullptr, std::string(fam.model) == "gpt2");
  if (meta.bos >= 0)
    kv.emplace_back("tokenizer.ggml.bos_token_id", GGUFValue::unsignedInt(GGUFType::U32, uint64_t(meta.bos)));
  if (meta.eos >= 0)
    kv.emplace_back("tokenizer.ggml.eos_token_id", GGUFValue::unsignedInt(GGUFType::U32, uint64_t(meta.eos)));

  TokenizerFiles files;
  ASSERT_TRUE(convert(kv, &files, &error)) << error;
  ASSERT_EQ(files.size(), 2u);
  Tokenizer gg = load(files, fam.name);
  ASSERT_TRUE(gg) << xfmr_last_error();
  EXPECT_EQ(xfmr_tokenizer_vocab_size(gg.get()), xfmr_tokenizer_vocab_size(hf.get()));
  EXPECT_EQ(xfmr_tokenizer_eos(gg.get()), xfmr_tokenizer_eos(hf.get()));

  // The texts of the tokenizer tests (test/runtime/tokenizer_refs), with
  // and without special tokens, and special tokens' texts in a prompt.
  std::string refPath = std::string(XFMR_TOKENIZER_REFS_DIR "/") + fam.name + ".json";
  llvm::Expected<llvm::json::Value> refs = llvm::json::parse(readAll(refPath));
  ASSERT_TRUE(bool(refs)) << refPath;
  std::vector<std::string> texts = {"Hello, world!", "Hello, world! 12345",
                                    "<|im_start|>user <think>", "<s>hi</s> <unk>"};
  for (const llvm::json::Value &r : *refs->getAsObject()->getArray("texts"))
    texts.push_back(r.getAsObject()->getString("text")->str());
  ASSERT_GE(texts.size(), 49u);
  for (const std::string &text : texts) {
    Ids want = encode(hf.get(), text);
    EXPECT_EQ(encode(gg.get(), text), want) << "text: '" << text << "'";
    EXPECT_EQ(encode(gg.get(), text, XFMR_TOKENIZE_NO_SPECIAL),
              encode(hf.get(), text, XFMR_TOKENIZE_NO_SPECIAL))
        << "without special tokens, text: '" << text << "'";
    EXPECT_EQ(decode(gg.get(), want), decode(hf.get(), want)) << "text: '" << text << "'";
  }
}

INSTANTIATE_TEST_SUITE_P(Files, RealTokenizer,
                         ::testing::Values(Family{"llama2", 32000, "llama", "default"},
                                           Family{"llama3", 128256, "gpt2", "llama-bpe"},
                                           Family{"qwen3", 151936, "gpt2", "qwen2"}),
                         [](const ::testing::TestParamInfo<Family> &p) {
                           return std::string(p.param.name);
                         });

// ---- GPT-2's vocab.json + merges.txt -> GGUF metadata -> tokenizer.json ----

// GPT-2's first files (third_party/gpt2-tokenizer), written as the metadata
// llama.cpp's converter writes for them and read back, give the ids of the
// files themselves (the runtime's vocab.json path) and of the real GPT-2
// tokenizer (the ids test/runtime/tokenizer_test.cpp recorded).
TEST(GPT2Files, GiveTheIdsOfVocabJsonAndMerges) {
  const std::string dir = XFMR_TOKENIZER_DIR;
  Tokenizer hf(xfmr_tokenizer_load(dir.c_str()), xfmr_tokenizer_free);
  ASSERT_TRUE(hf) << xfmr_last_error() << " (scripts/setup.sh fetches the files)";
  GGUFTokenizerMetadata meta;
  std::string error;
  ASSERT_TRUE(ggufTokenizerFromGPT2Files(readAll(dir + "/vocab.json"),
                                         readAll(dir + "/merges.txt"), "", dir, 50257, &meta,
                                         &error))
      << error;
  KV kv = meta.kv;
  auto find = [&](const char *key) { return findKey(kv, key); };
  ASSERT_NE(find("tokenizer.ggml.model"), nullptr);
  EXPECT_EQ(find("tokenizer.ggml.model")->s, "gpt2");
  EXPECT_EQ(find("tokenizer.ggml.pre")->s, "gpt-2");
  EXPECT_EQ(find("tokenizer.ggml.tokens")->elements.size(), 50257u);
  EXPECT_EQ(find("tokenizer.ggml.merges")->elements.size(), 50000u);
  // <|endoftext|> a control token, as llama.cpp's converter marks it.
  EXPECT_EQ(find("tokenizer.ggml.token_type")->elements[50256].i, int64_t(GGUFTokenType::Control));
  EXPECT_EQ(find("tokenizer.ggml.token_type")->elements[50255].i, int64_t(GGUFTokenType::Normal));
  kv.emplace_back("tokenizer.ggml.eos_token_id", GGUFValue::unsignedInt(GGUFType::U32, 50256));

  TokenizerFiles files;
  ASSERT_TRUE(convert(kv, &files, &error)) << error;
  Tokenizer gg = load(files, "gpt2");
  ASSERT_TRUE(gg) << xfmr_last_error();
  EXPECT_EQ(xfmr_tokenizer_vocab_size(gg.get()), 50257);
  EXPECT_EQ(xfmr_tokenizer_eos(gg.get()), 50256);
  // The texts of the GPT-2 tokenizer test with the real tokenizer's ids,
  // then those of the other tokenizer tests against the vocab.json path.
  const std::vector<std::pair<std::string, Ids>> known = {
      {"Hello, world!", {15496, 11, 995, 0}},
      {"The quick brown fox jumps over the lazy dog.",
       {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}},
      {"caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9", {66, 1878, 2634, 41492, 40560, 16345, 2634}},
      {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
       {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302}},
      {"emoji \xf0\x9f\x91\x8b\xf0\x9f\x8c\x8d test", {368, 31370, 50169, 233, 8582, 234, 235, 1332}},
      {"  multiple   spaces\n\nand\ttabs  ",
       {220, 3294, 220, 220, 9029, 198, 198, 392, 197, 8658, 82, 220, 220}},
      {"It's 2026, isn't it? I'll say 12345.",
       {1026, 338, 1160, 2075, 11, 2125, 470, 340, 30, 314, 1183, 910, 17031, 2231, 13}},
      {"", {}},
  };
  for (const auto &[text, ids] : known) {
    EXPECT_EQ(encode(gg.get(), text), ids) << "text: '" << text << "'";
    EXPECT_EQ(decode(gg.get(), ids), text);
  }
  std::vector<std::string> texts;
  for (const char *ref : {"llama3", "qwen3", "llama2"}) {
    std::string refPath = std::string(XFMR_TOKENIZER_REFS_DIR "/") + ref + ".json";
    llvm::Expected<llvm::json::Value> refs = llvm::json::parse(readAll(refPath));
    ASSERT_TRUE(bool(refs)) << refPath;
    for (const llvm::json::Value &r : *refs->getAsObject()->getArray("texts"))
      texts.push_back(r.getAsObject()->getString("text")->str());
  }
  ASSERT_GE(texts.size(), 100u);
  for (const std::string &text : texts) {
    // The vocab.json path has no special tokens: <|endoftext|> is text there.
    Ids want = encode(hf.get(), text);
    EXPECT_EQ(encode(gg.get(), text, XFMR_TOKENIZE_SPECIAL_AS_TEXT), want)
        << "text: '" << text << "'";
    if (text.find("<|endoftext|>") == std::string::npos)
      EXPECT_EQ(encode(gg.get(), text), want) << "text: '" << text << "'";
    EXPECT_EQ(decode(gg.get(), want), decode(hf.get(), want)) << "text: '" << text << "'";
  }
  // <|endoftext|> in a prompt is the special token (as Hugging Face's
  // GPT2Tokenizer reads it), unless asked to read it as text.
  EXPECT_EQ(encode(gg.get(), "a<|endoftext|>"), (Ids{64, 50256}));
  EXPECT_EQ(encode(gg.get(), "a<|endoftext|>", XFMR_TOKENIZE_SPECIAL_AS_TEXT),
            encode(hf.get(), "a<|endoftext|>"));
  EXPECT_NE(encode(hf.get(), "a<|endoftext|>"), (Ids{64, 50256}));
}

// A merges.txt line that is not two tokens of vocab.json is refused, the
// message naming the two files and the merge.
TEST(GPT2Files, BadMergeIsRefusedByName) {
  GGUFTokenizerMetadata meta;
  std::string error;
  EXPECT_FALSE(ggufTokenizerFromGPT2Files(R"({"a": 0, "b": 1, "ab": 2})", "#version: 0.2\na b\nb c\n",
                                          "", "/m", 3, &meta, &error));
  EXPECT_NE(error.find("/m/vocab.json + merges.txt: model.merges[1]: does not join two tokens"),
            std::string::npos)
      << error;
  EXPECT_FALSE(ggufTokenizerFromGPT2Files("[1, 2]", "", "", "/m", 3, &meta, &error));
  EXPECT_NE(error.find("/m/vocab.json: not a JSON object"), std::string::npos) << error;
}

// ---- Merges from scores ------------------------------------------------------

TEST(MergesFromScores, EverySplitRankedByTheResultsScore) {
  //                                 0    1    2    3     4     5      6
  std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc", "<s>"};
  std::vector<float> scores = {0, 0, 0, -2, -1, -3, 0};
  std::vector<bool> result = {true, true, true, true, true, true, false};
  std::vector<Merge> m = mergesFromScores(tokens, scores, result);
  // bc (-1), then ab (-2), then abc's two splits (-3) by their parts' ids.
  std::vector<Merge> want = {{1, 2, 4}, {0, 1, 3}, {0, 4, 5}, {3, 2, 5}};
  EXPECT_EQ(m, want);
  // A token that may not be a result gives no merge; nor does a cut inside
  // a character (no token is half of one).
  result[5] = false;
  tokens.push_back("\xC3\xA9"); // é
  scores.push_back(-0.5f);
  result.push_back(true);
  want = {{1, 2, 4}, {0, 1, 3}};
  EXPECT_EQ(mergesFromScores(tokens, scores, result), want);
}

// ---- Small files and each refusal ----------------------------------------------

GGUFValue ints(std::vector<int64_t> v) {
  std::vector<GGUFValue> e;
  for (int64_t x : v)
    e.push_back(GGUFValue::signedInt(GGUFType::I32, x));
  return GGUFValue::array(GGUFType::I32, e);
}
GGUFValue floats(std::vector<double> v) {
  std::vector<GGUFValue> e;
  for (double x : v)
    e.push_back(GGUFValue::real(GGUFType::F32, x));
  return GGUFValue::array(GGUFType::F32, e);
}

/// SentencePiece: <unk> <s> </s>, two byte tokens, ▁ a b ▁a ab ▁ab, [PAD].
KV smallLlama() {
  return {
      {"tokenizer.ggml.model", GGUFValue::string("llama")},
      {"tokenizer.ggml.tokens",
       GGUFValue::strings({"<unk>", "<s>", "</s>", "<0x0A>", "<0x21>", "\xE2\x96\x81", "a", "b",
                           "\xE2\x96\x81" "a", "ab", "\xE2\x96\x81" "ab", "[PAD11]"})},
      {"tokenizer.ggml.scores", floats({0, 0, 0, 0, 0, -9, -9, -9, -1, -2, -3, 0})},
      {"tokenizer.ggml.token_type", ints({2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 5})},
      {"tokenizer.ggml.bos_token_id", GGUFValue::unsignedInt(GGUFType::U32, 1)},
      {"tokenizer.ggml.eos_token_id", GGUFValue::unsignedInt(GGUFType::U32, 2)},
      {"tokenizer.chat_template", GGUFValue::string("{{ messages }}")},
  };
}

/// Byte-level: a b ab Ġ Ġab, <|end|> control.
KV smallGpt2() {
  return {
      {"tokenizer.ggml.model", GGUFValue::string("gpt2")},
      {"tokenizer.ggml.pre", GGUFValue::string("qwen2")},
      {"tokenizer.ggml.tokens", GGUFValue::strings({"a", "b", "ab", "\xC4\xA0", "\xC4\xA0" "ab", "<|end|>"})},
      {"tokenizer.ggml.token_type", ints({1, 1, 1, 1, 1, 3})},
      {"tokenizer.ggml.merges", GGUFValue::strings({"a b", "\xC4\xA0 ab"})},
      {"tokenizer.ggml.eos_token_id", GGUFValue::unsignedInt(GGUFType::U32, 5)},
  };
}

void set(KV &kv, const std::string &key, GGUFValue v) {
  for (auto &[k, old] : kv)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv.emplace_back(key, std::move(v));
}

TEST(GGUFTokenizer, SentencePieceFromScores) {
  TokenizerFiles files;
  std::string error;
  ASSERT_TRUE(convert(smallLlama(), &files, &error)) << error;
  Tokenizer t = load(files, "small_llama");
  ASSERT_TRUE(t) << xfmr_last_error();
  // <s> added by default; ▁ab from the merges the scores give; the unused
  // padding left out; newline by byte fallback.
  EXPECT_EQ(encode(t.get(), "ab a\n"), (Ids{1, 10, 8, 3}));
  EXPECT_EQ(xfmr_tokenizer_vocab_size(t.get()), 11);
  EXPECT_EQ(decode(t.get(), {1, 10, 8, 3}), "<s> ab a\n");
  EXPECT_NE(files[1].second.find("\"chat_template\":\"{{ messages }}\""), std::string::npos)
      << files[1].second;
  // add_bos_token false, add_space_prefix false.
  KV kv = smallLlama();
  set(kv, "tokenizer.ggml.add_bos_token", GGUFValue::boolean(false));
  set(kv, "tokenizer.ggml.add_space_prefix", GGUFValue::boolean(false));
  ASSERT_TRUE(convert(kv, &files, &error)) << error;
  t = load(files, "small_llama2");
  ASSERT_TRUE(t) << xfmr_last_error();
  EXPECT_EQ(encode(t.get(), "ab"), (Ids{9}));
}

TEST(GGUFTokenizer, ByteLevelFromMerges) {
  TokenizerFiles files;
  std::string error;
  ASSERT_TRUE(convert(smallGpt2(), &files, &error)) << error;
  Tokenizer t = load(files, "small_gpt2");
  ASSERT_TRUE(t) << xfmr_last_error();
  EXPECT_EQ(encode(t.get(), "ab ab<|end|>"), (Ids{2, 4, 5}));
  EXPECT_TRUE(xfmr_token_is_special(t.get(), 5));
  EXPECT_EQ(xfmr_tokenizer_eos(t.get()), 5);
}

TEST(GGUFTokenizer, NoModelKeyIsNoTokenizer) {
  KV kv = smallLlama();
  kv.erase(kv.begin());
  TokenizerFiles files = {{"x", "y"}};
  std::string error;
  EXPECT_TRUE(convert(kv, &files, &error)) << error;
  EXPECT_TRUE(files.empty());
}

struct Bad {
  const char *name;
  bool llama; // start from smallLlama(), else smallGpt2()
  const char *key;
  GGUFValue value;
  const char *message;
};

TEST(GGUFTokenizer, RefusesBadMetadataInOneLine) {
  const char *type = "tokenizer.ggml.token_type";
  std::vector<Bad> cases = {
      {"unknown model", true, "tokenizer.ggml.model", GGUFValue::string("bert"),
       "t.gguf: metadata 'tokenizer.ggml.model' 'bert' is not a tokenizer xfmr implements"},
      {"model not a string", true, "tokenizer.ggml.model", GGUFValue::boolean(true),
       "t.gguf: metadata 'tokenizer.ggml.model' must be a string, not a bool"},
      {"unknown pre", false, "tokenizer.ggml.pre", GGUFValue::string("jais"),
       "t.gguf: metadata 'tokenizer.ggml.pre' 'jais' is not a pre-tokenizer xfmr knows (gpt-2, "},
      {"llama.cpp's own default split", false, "tokenizer.ggml.pre", GGUFValue::string("default"),
       "'default' is not a pre-tokenizer xfmr knows"},
      {"token types too short", true, type, ints({2, 3, 3}),
       "t.gguf: metadata 'tokenizer.ggml.token_type' has 3 elements; tokenizer.ggml.tokens has 12"},
      {"token types not integers", true, type, GGUFValue::strings({"a"}),
       "'tokenizer.ggml.token_type' must be an array of integers, not an array of string"},
      {"unknown token type", true, type, ints({2, 3, 3, 6, 6, 1, 1, 1, 9, 1, 1, 5}),
       "'tokenizer.ggml.token_type' [8] = 9 is not a token type"},
      {"scores too long", true, "tokenizer.ggml.scores", floats(std::vector<double>(13, 0.0)),
       "'tokenizer.ggml.scores' has 13 elements"},
      {"NaN score", true, "tokenizer.ggml.scores",
       floats({0, 0, 0, 0, 0, -9, -9, -9, std::nan(""), -2, -3, 0}),
       "'tokenizer.ggml.scores' [8] is not a finite float"},
      {"no scores", true, "tokenizer.ggml.scores", GGUFValue::string("none"),
       "'tokenizer.ggml.scores' must be an array of floats, not a string"},
      {"byte token not <0xNN>", true, type, ints({2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 5}),
       "'tokenizer.ggml.tokens' [5] '\xE2\x96\x81' is of type byte but not <0xNN>"},
      {"tokens twice", false, "tokenizer.ggml.tokens",
       GGUFValue::strings({"a", "b", "ab", "a", "\xC4\xA0" "ab", "<|end|>"}),
       "'tokenizer.ggml.tokens' [3] 'a' is token 0 too"},
      {"token not UTF-8", false, "tokenizer.ggml.tokens",
       GGUFValue::strings({"a", "b", "ab", "\xC4", "\xC4\xA0" "ab", "<|end|>"}),
       "'tokenizer.ggml.tokens' [3] is not valid UTF-8"},
      {"merge of non-tokens", false, "tokenizer.ggml.merges", GGUFValue::strings({"a c"}),
       "'tokenizer.ggml.merges' [0] 'a c' does not join two tokens into a token"},
      {"merge not A B", false, "tokenizer.ggml.merges", GGUFValue::strings({"ab"}),
       "'tokenizer.ggml.merges' [0] 'ab' is not 'A B'"},
      {"eos out of range", false, "tokenizer.ggml.eos_token_id",
       GGUFValue::unsignedInt(GGUFType::U32, 6), "'tokenizer.ggml.eos_token_id' = 6 is not a token id (0..5)"},
      {"add_bos without bos", false, "tokenizer.ggml.add_bos_token", GGUFValue::boolean(true),
       "'tokenizer.ggml.add_bos_token' is true, but there is no bos_token_id"},
      {"only control tokens", false, type, ints({3, 3, 3, 3, 3, 3}),
       "'tokenizer.ggml.tokens' has no token that is not control or user-defined"},
  };
  for (Bad &c : cases) {
    KV kv = c.llama ? smallLlama() : smallGpt2();
    set(kv, c.key, c.value);
    TokenizerFiles files;
    std::string error;
    EXPECT_FALSE(convert(kv, &files, &error)) << c.name;
    EXPECT_NE(error.find(c.message), std::string::npos) << c.name << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << c.name << ": " << error;
  }
  // A missing pre-tokenizer name, and missing merges.
  for (const char *key : {"tokenizer.ggml.pre", "tokenizer.ggml.merges"}) {
    KV kv = smallGpt2();
    for (auto it = kv.begin(); it != kv.end(); ++it)
      if (it->first == key) {
        kv.erase(it);
        break;
      }
    TokenizerFiles files;
    std::string error;
    EXPECT_FALSE(convert(kv, &files, &error)) << key;
    EXPECT_NE(error.find(std::string("'") + key + "' is missing"), std::string::npos) << error;
  }
}

// ---- The writer refuses what GGUF cannot hold --------------------------------------

TEST(GGUFTokenizerWriter, RefusesWhatTheMetadataWouldLose) {
  std::string llama2 = readAll(XFMR_TOKENIZERS_DIR "/llama2/tokenizer.json");
  ASSERT_FALSE(llama2.empty()) << "scripts/setup.sh fetches the files";
  GGUFTokenizerMetadata meta;
  std::string error;
  EXPECT_FALSE(ggufTokenizerFromHF(llama2, "", "d", 31999, &meta, &error));
  EXPECT_EQ(error, "d/tokenizer.json: model.vocab: has 32000 tokens with the added ones, more "
                   "than the model's 31999");
  auto refused = [&](const std::string &json, const std::string &message) {
    std::string e;
    EXPECT_FALSE(ggufTokenizerFromHF(json, "", "d", 100, &meta, &e)) << json;
    EXPECT_NE(e.find(message), std::string::npos) << e;
  };
  refused(R"({"model": {"type": "Unigram"}})", "d/tokenizer.json: model.type: only BPE");
  refused(R"({"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}})",
          "d/tokenizer.json: pre_tokenizer: not a tokenizer GGUF metadata holds");
  refused(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[a-z]+"}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
          "pre_tokenizer: not a tokenizer GGUF metadata holds");
  // Merges SentencePiece scores cannot give: "abc" made from ab + c only,
  // though a + bc splits it too (the scores would make both merges).
  refused(R"({"normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
              "model": {"type": "BPE", "byte_fallback": true,
                        "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5},
                        "merges": ["a b", "b c", "ab c"]}})",
          "model.merges: not the merges SentencePiece scores give back");
}

} // namespace

namespace {
// The fuzz target's seeds reach the converter's success path.
TEST(GGUFTokenizer, FuzzSeedsConvert) {
  for (const char *seed : {"small-llama.gguf", "byte-level-tokenizer.gguf"}) {
    std::string error;
    auto f = GGUFFile::open(std::string(XFMR_GGUF_SEEDS_DIR "/") + seed, &error);
    ASSERT_TRUE(f) << error;
    TokenizerFiles files;
    ASSERT_TRUE(tokenizerFilesFromGGUF(*f, &files, &error)) << seed << ": " << error;
    ASSERT_EQ(files.size(), 2u) << seed;
    EXPECT_TRUE(load(files, seed)) << seed << ": " << xfmr_last_error();
  }
}
} // namespace

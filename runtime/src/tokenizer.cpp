// GPT-2 byte-level BPE (vocab.json + merges.txt), with GPT-2's
// pre-tokenization pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented by hand over code points; letters and numbers are classified
// with the C.UTF-8 locale's Unicode tables.
#include "error.h"
#include "xfmr/runtime.h"

#include <nlohmann/json.hpp>

#include <clocale>
#include <fstream>
#include <locale.h>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>
#include <wctype.h>

using xfmr::rt::setError;

namespace {
void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

/// Decodes UTF-8 into code points, keeping each one's byte span. Invalid
/// bytes become single-byte "code points" (U+FFFD class: other).
struct CodePoint {
  uint32_t cp;
  size_t begin, end;
};

std::vector<CodePoint> decodeUtf8(const std::string &s) {
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
} // namespace

struct xfmr_tokenizer {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> bytesOf; // id -> raw bytes
  std::unordered_map<std::string, int> mergeRank; // "a b" -> rank
  std::string byteToUnicode[256];
  std::unordered_map<std::string, std::vector<int32_t>> cache;
  locale_t utf8 = (locale_t)0;

  ~xfmr_tokenizer() {
    if (utf8)
      freelocale(utf8);
  }

  enum Class { Letter, Number, Space, Other };
  Class classify(uint32_t cp) const {
    if (cp < 0x80) {
      if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
        return Letter;
      if (cp >= '0' && cp <= '9')
        return Number;
      if (cp == ' ' || (cp >= '\t' && cp <= '\r'))
        return Space;
      return Other;
    }
    if (utf8) {
      if (iswspace_l(wint_t(cp), utf8) || cp == 0x85 || cp == 0xA0)
        return Space;
      if (iswalpha_l(wint_t(cp), utf8))
        return Letter;
      if (iswdigit_l(wint_t(cp), utf8))
        return Number;
    }
    return Other;
  }

  /// Splits text into GPT-2 pre-tokens (byte spans).
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
    auto runOfOther = [&](size_t j) {
      while (j < n && classify(cps[j].cp) == Other)
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
        j = i + 1; // optional leading space
      Class cls = classify(cps[j].cp);
      if (cls == Letter || cls == Number) {
        size_t e = runOf(j, cls);
        span(start, e);
        i = e;
      } else if (cls == Other) {
        size_t e = runOfOther(j);
        span(start, e);
        i = e;
      } else { // whitespace: leave the last one for the next word
        size_t e = runOf(i, Space);
        if (e < n && e - i > 1)
          --e;
        span(i, e);
        i = e;
      }
    }
    return out;
  }

  std::vector<int32_t> bpe(const std::string &piece) {
    auto hit = cache.find(piece);
    if (hit != cache.end())
      return hit->second;
    std::vector<std::string> parts;
    for (unsigned char c : piece)
      parts.push_back(byteToUnicode[c]);
    while (parts.size() > 1) {
      int best = -1, bestRank = INT32_MAX;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = mergeRank.find(parts[i] + " " + parts[i + 1]);
        if (it != mergeRank.end() && it->second < bestRank) {
          bestRank = it->second;
          best = int(i);
        }
      }
      if (best < 0)
        break;
      // Merge every occurrence of the best pair, left to right.
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
    cache.emplace(piece, ids);
    return ids;
  }
};

extern "C" xfmr_tokenizer *xfmr_tokenizer_load(const char *dir) {
  auto t = std::make_unique<xfmr_tokenizer>();
  std::string d = dir ? dir : ".";
  std::string vocabPath = d + "/vocab.json", mergesPath = d + "/merges.txt";
  std::ifstream vf(vocabPath), mf(mergesPath);
  if (!vf || !mf) {
    setError(d + ": no tokenizer (vocab.json and merges.txt)");
    return nullptr;
  }
  // GPT-2's byte <-> printable code point table.
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    appendUtf8(t->byteToUnicode[b], printable ? uint32_t(b) : uint32_t(256 + extra++));
  }
  std::unordered_map<std::string, unsigned char> unicodeToByte;
  for (int b = 0; b < 256; ++b)
    unicodeToByte[t->byteToUnicode[b]] = (unsigned char)b;

  nlohmann::json j = nlohmann::json::parse(vf, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    setError(vocabPath + ": not a JSON object of token -> id");
    return nullptr;
  }
  for (auto &[tok, id] : j.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > 10000000) {
      setError(vocabPath + ": bad id for token '" + tok + "'");
      return nullptr;
    }
    int32_t i = id.get<int32_t>();
    t->vocab[tok] = i;
    if (size_t(i) >= t->bytesOf.size())
      t->bytesOf.resize(size_t(i) + 1);
    std::string raw;
    for (const CodePoint &cp : decodeUtf8(tok)) {
      std::string u;
      appendUtf8(u, cp.cp);
      auto it = unicodeToByte.find(u);
      if (it != unicodeToByte.end())
        raw += char(it->second);
      else
        raw += u; // special tokens such as <|endoftext|> are plain text
    }
    t->bytesOf[i] = raw;
  }
  std::string line;
  int rank = 0;
  while (std::getline(mf, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0)
      continue;
    if (line.find(' ') == std::string::npos) {
      setError(mergesPath + ": line without a pair: '" + line + "'");
      return nullptr;
    }
    t->mergeRank.emplace(line, rank++);
  }
  t->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  return t.release();
}

extern "C" void xfmr_tokenizer_free(xfmr_tokenizer *t) { delete t; }

extern "C" int xfmr_tokenize(xfmr_tokenizer *t, const char *text, int32_t *ids,
                             int cap) {
  int count = 0;
  for (const std::string &piece : t->pretokenize(text ? text : ""))
    for (int32_t id : t->bpe(piece)) {
      if (count < cap && ids)
        ids[count] = id;
      ++count;
    }
  return count;
}

extern "C" const char *xfmr_token_bytes(const xfmr_tokenizer *t, int32_t id,
                                        size_t *len) {
  if (id < 0 || size_t(id) >= t->bytesOf.size())
    return nullptr;
  if (len)
    *len = t->bytesOf[id].size();
  return t->bytesOf[id].data();
}

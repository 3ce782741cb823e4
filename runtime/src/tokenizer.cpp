// GPT-2 byte-level BPE (vocab.json + merges.txt), with GPT-2's
// pre-tokenization pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented by hand over code points; letters and numbers are classified
// with the C.UTF-8 locale's Unicode tables.
//
// Hostile input is expected on both sides: loading reads bounded regular
// files and validates them (see tokenizer_load.h), and encoding takes time
// O(n log n) and memory O(n) in the length of the text, whatever it is.
#include "tokenizer_load.h"

#include "error.h"
#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <clocale>
#include <cstring>
#include <functional>
#include <locale.h>
#include <new>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>
#include <wctype.h>

using xfmr::rt::setError;

namespace {
/// Pre-tokens up to this long are remembered with their ids: words recur,
/// long runs (a hex dump, a line of dashes) seldom do and would pin memory.
constexpr size_t kMaxCachedPieceBytes = 64;
/// The cache is emptied when it reaches this many pieces, so it stays a few
/// MiB; a text's common words are back in it after a few sentences.
constexpr size_t kMaxCachedPieces = size_t(1) << 14;
/// How much of a token or a line an error message quotes.
constexpr size_t kMaxQuotedBytes = 40;
/// Marks a symbol merged into its left neighbour (ids are >= 0 and -1 is a
/// byte that vocab.json lacks).
constexpr int32_t kDead = -2;

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

/// One code point decoded from UTF-8 and its length in bytes. Invalid bytes
/// become single-byte "code points" U+FFFD (class: other).
struct CodePoint {
  uint32_t cp;
  size_t len;
};

/// Decodes the code point at s[i] (i < n), reading no further than s[n-1].
CodePoint decodeAt(const char *s, size_t n, size_t i) {
  unsigned char c = s[i];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (len == 0 || i + len > n)
    return {0xFFFD, 1};
  uint32_t cp = len == 1 ? c : (c & (0x7F >> len));
  for (size_t k = 1; k < len; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80)
      return {0xFFFD, 1};
    cp = (cp << 6) | (cc & 0x3F);
  }
  return {cp, len};
}

/// `s` quoted for a one-line error message: control bytes escaped, cut
/// after kMaxQuotedBytes.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxQuotedBytes; ++i) {
    unsigned char c = s[i];
    if (c < 0x20 || c == 0x7F || c == '\\' || c == '\'') {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  return out + (s.size() > kMaxQuotedBytes ? "'..." : "'");
}

/// The key of a merge: the ids of its two parts.
uint64_t pairKey(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

struct Merge {
  int32_t rank;   // line order in merges.txt: lower merges first
  int32_t result; // the id of the concatenation
};
} // namespace

struct xfmr_tokenizer {
  std::vector<std::string> bytesOf; // id -> raw bytes
  int32_t byteId[256];              // byte -> id of its one-byte token, or -1
  std::unordered_map<uint64_t, Merge> merges; // pairKey(a, b) -> merge
  std::unordered_map<std::string, std::vector<int32_t>> cache;
  std::vector<int32_t> uncached; // the ids of the last uncacheable piece
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

  /// The end of the run of code points of class `cls` from byte j; *last,
  /// when given, is where the run's last code point starts.
  size_t runOf(const char *s, size_t n, size_t j, Class cls,
               size_t *last = nullptr) const {
    while (j < n) {
      CodePoint c = decodeAt(s, n, j);
      if (classify(c.cp) != cls)
        break;
      if (last)
        *last = j;
      j += c.len;
    }
    return j;
  }

  /// Calls emit(piece) for each GPT-2 pre-token of s[0, n), in order. It
  /// decodes as it goes rather than into a table of code points, so a huge
  /// text costs no memory beyond itself.
  void forEachPretoken(const char *s, size_t n,
                       const std::function<void(std::string_view)> &emit) const {
    size_t i = 0;
    auto span = [&](size_t a, size_t b) {
      emit(std::string_view(s + a, b - a));
      i = b;
    };
    while (i < n) {
      CodePoint c = decodeAt(s, n, i);
      if (c.cp == '\'' && i + 1 < n) { // contractions: 's 't 'm 'd 're 've 'll
        size_t i1 = i + 1, i2 = i1 + decodeAt(s, n, i1).len;
        uint32_t a = decodeAt(s, n, i1).cp, b = i2 < n ? decodeAt(s, n, i2).cp : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') {
          span(i, i2);
          continue;
        }
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
            (a == 'l' && b == 'l')) {
          span(i, i2 + 1);
          continue;
        }
      }
      size_t j = i;
      if (c.cp == ' ' && i + 1 < n && classify(decodeAt(s, n, i + 1).cp) != Space)
        j = i + 1; // optional leading space
      Class cls = classify(decodeAt(s, n, j).cp);
      if (cls != Space) {
        span(i, runOf(s, n, j, cls));
      } else { // whitespace: leave the last one for the next word
        size_t last = i, e = runOf(s, n, i, Space, &last);
        span(i, e < n && last > i ? last : e);
      }
    }
  }

  const Merge *findMerge(int32_t left, int32_t right) const {
    auto it = merges.find(pairKey(left, right));
    return it == merges.end() ? nullptr : &it->second;
  }

  /// Byte-pair encodes one pre-token, appending its ids to `out`.
  ///
  /// The result is that of the textbook loop (find the lowest-ranked
  /// adjacent pair, merge each of its occurrences left to right, repeat) in
  /// O(n log n) rather than O(n^2): symbols form a linked list, candidate
  /// pairs wait in a min-heap keyed by (rank, left position) and are checked
  /// when popped (a merge nearby may have changed either side). All pairs
  /// of one rank are popped before any is merged: a merge can create a pair
  /// of a lower rank (merges.txt need not be in training order), which the
  /// textbook loop only takes after finishing the current rank.
  void bpe(std::string_view piece, std::vector<int32_t> &out) const {
    struct Symbol {
      int32_t id, prev, next; // prev, next: positions, -1 at either end
    };
    int32_t n = int32_t(piece.size());
    std::vector<Symbol> sym(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i)
      sym[i] = {byteId[(unsigned char)piece[i]], i - 1, i + 1 < n ? i + 1 : -1};
    std::vector<uint64_t> heap; // (rank << 32) | left position
    auto push = [&](int32_t left) {
      int32_t right = sym[left].next;
      if (right < 0)
        return;
      if (const Merge *m = findMerge(sym[left].id, sym[right].id)) {
        heap.push_back((uint64_t(m->rank) << 32) | uint32_t(left));
        std::push_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
      }
    };
    for (int32_t i = 0; i + 1 < n; ++i)
      push(i);
    std::vector<int32_t> round; // left positions of one rank, ascending
    while (!heap.empty()) {
      uint64_t rank = heap.front() >> 32;
      round.clear();
      while (!heap.empty() && heap.front() >> 32 == rank) {
        round.push_back(int32_t(uint32_t(heap.front())));
        std::pop_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
        heap.pop_back();
      }
      for (int32_t left : round) {
        Symbol &l = sym[left];
        if (l.id == kDead || l.next < 0)
          continue;
        // Stale unless the pair there is still the one of this rank (a rank
        // names one pair, so this checks both sides' text).
        const Merge *m = findMerge(l.id, sym[l.next].id);
        if (!m || uint64_t(m->rank) != rank)
          continue;
        int32_t right = l.next;
        l.id = m->result;
        l.next = sym[right].next;
        if (l.next >= 0)
          sym[l.next].prev = left;
        sym[right].id = kDead;
        if (l.prev >= 0)
          push(l.prev);
        push(left);
      }
    }
    // A byte whose token vocab.json lacks (-1) never merges (every merge's
    // parts are tokens) and is left out, as before.
    for (int32_t i = n ? 0 : -1; i >= 0; i = sym[i].next)
      if (sym[i].id >= 0)
        out.push_back(sym[i].id);
  }

  /// The ids of one pre-token, valid until the next call.
  const std::vector<int32_t> &encodePiece(std::string_view piece) {
    if (piece.size() > kMaxCachedPieceBytes) {
      uncached.clear();
      bpe(piece, uncached);
      return uncached;
    }
    std::string key(piece);
    auto hit = cache.find(key);
    if (hit != cache.end())
      return hit->second;
    std::vector<int32_t> ids;
    bpe(piece, ids);
    if (cache.size() >= kMaxCachedPieces)
      cache.clear();
    return cache.emplace(std::move(key), std::move(ids)).first->second;
  }
};

namespace {
/// GPT-2's table of byte -> printable code point (bytes_to_unicode()).
void byteToUnicodeTable(uint32_t (&table)[256]) {
  uint32_t extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    table[b] = printable ? uint32_t(b) : 256 + extra++;
  }
}

/// The raw bytes of a vocab.json token: its code points mapped back through
/// GPT-2's table; other code points (special tokens such as
/// <|endoftext|> are plain text) are kept as UTF-8.
std::string rawBytesOf(const std::string &token, const int (&byteOfCp)[512]) {
  std::string raw;
  for (size_t i = 0; i < token.size();) {
    CodePoint c = decodeAt(token.data(), token.size(), i);
    if (c.cp < 512 && byteOfCp[c.cp] >= 0)
      raw += char(byteOfCp[c.cp]);
    else
      raw.append(token, i, c.len);
    i += c.len;
  }
  return raw;
}

/// Parses vocab.json into token -> id and t->bytesOf; false with *error.
bool parseVocab(const std::string &text, const std::string &path,
                std::unordered_map<std::string, int32_t> &vocab,
                xfmr_tokenizer &t, std::string *error) {
  const char *begin = text.data();
  if (!xfmr::io::jsonDepthWithin(begin, begin + text.size(), xfmr::io::kMaxJsonDepth)) {
    *error = path + ": JSON nested deeper than " +
             std::to_string(xfmr::io::kMaxJsonDepth) + " levels";
    return false;
  }
  // nlohmann keeps the last of two equal keys: count them to notice.
  size_t keys = 0;
  nlohmann::json::parser_callback_t countKeys =
      [&keys](int depth, nlohmann::json::parse_event_t event, nlohmann::json &) {
        if (depth == 1 && event == nlohmann::json::parse_event_t::key)
          ++keys;
        return true;
      };
  nlohmann::json j =
      nlohmann::json::parse(text, countKeys, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = path + ": not valid JSON";
    return false;
  }
  if (!j.is_object()) {
    *error = path + ": not a JSON object of token -> id";
    return false;
  }
  if (keys != j.size()) {
    *error = path + ": a token appears more than once";
    return false;
  }
  uint32_t cpOfByte[256];
  byteToUnicodeTable(cpOfByte);
  int byteOfCp[512];
  std::fill(std::begin(byteOfCp), std::end(byteOfCp), -1);
  for (int b = 0; b < 256; ++b)
    byteOfCp[cpOfByte[b]] = b;

  size_t count = j.size();
  if (count == 0) {
    *error = path + ": no tokens";
    return false;
  }
  t.bytesOf.assign(count, std::string());
  std::vector<bool> seen(count, false);
  vocab.reserve(count);
  for (auto &[tok, id] : j.items()) {
    // is_number_unsigned: an integer >= 0 (a negative one is only
    // is_number_integer); floats, strings and the rest are refused.
    if (!id.is_number_unsigned()) {
      *error = path + ": bad id for token " + quote(tok) +
               " (not a non-negative integer)";
      return false;
    }
    uint64_t i = id.get<uint64_t>();
    if (i >= count) {
      *error = path + ": id " + std::to_string(i) + " of token " + quote(tok) +
               " is outside 0.." + std::to_string(count - 1) +
               " (the ids must be 0..N-1 for N tokens)";
      return false;
    }
    if (seen[i]) {
      *error = path + ": id " + std::to_string(i) + " is given twice (again to " +
               quote(tok) + ")";
      return false;
    }
    seen[i] = true;
    vocab.emplace(tok, int32_t(i));
    t.bytesOf[i] = rawBytesOf(tok, byteOfCp);
  }
  for (int b = 0; b < 256; ++b) {
    std::string u;
    appendUtf8(u, cpOfByte[b]);
    auto it = vocab.find(u);
    t.byteId[b] = it == vocab.end() ? -1 : it->second;
  }
  return true;
}

/// Parses merges.txt into t.merges; false with *error naming the line.
bool parseMerges(const std::string &text, const std::string &path,
                 const std::unordered_map<std::string, int32_t> &vocab,
                 xfmr_tokenizer &t, std::string *error) {
  auto idOf = [&](const std::string &s) {
    auto it = vocab.find(s);
    return it == vocab.end() ? -1 : it->second;
  };
  int32_t rank = 0;
  size_t lineNo = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty() || line.substr(0, 8) == "#version")
      continue;
    std::string where = path + ":" + std::to_string(lineNo) + ": ";
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      *error = where + "not a merge 'A B' (two non-empty parts, one space): " +
               quote(line);
      return false;
    }
    std::string a(line.substr(0, space)), b(line.substr(space + 1));
    int32_t ia = idOf(a), ib = idOf(b), iab = idOf(a + b);
    auto notAToken = [&](const char *what, const std::string &s) {
      *error = where + what + " " + quote(s) + " is not a token of vocab.json";
      return false;
    };
    if (ia < 0)
      return notAToken("part", a);
    if (ib < 0)
      return notAToken("part", b);
    if (iab < 0)
      return notAToken("result", a + b);
    if (rank == INT32_MAX) {
      *error = where + "more merges than ranks";
      return false;
    }
    // The first of two equal lines wins, as a map of "A B" -> rank had it.
    t.merges.emplace(pairKey(ia, ib), Merge{rank++, iab});
  }
  return true;
}

xfmr_tokenizer *loadFromText(const std::string &vocabJson,
                             const std::string &mergesTxt, const std::string &name,
                             std::string *error) {
  auto t = std::make_unique<xfmr_tokenizer>();
  std::unordered_map<std::string, int32_t> vocab; // only needed to load
  if (!parseVocab(vocabJson, name + "/vocab.json", vocab, *t, error) ||
      !parseMerges(mergesTxt, name + "/merges.txt", vocab, *t, error))
    return nullptr;
  t->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  return t.release();
}

bool missing(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}
} // namespace

xfmr_tokenizer *loadTokenizerFromText(const std::string &vocabJson,
                                      const std::string &mergesTxt,
                                      const std::string &nameForErrors,
                                      std::string *error) {
  std::string ignored;
  std::string &err = error ? *error : ignored;
  try {
    return loadFromText(vocabJson, mergesTxt, nameForErrors, &err);
  } catch (const std::bad_alloc &) {
    err = nameForErrors + ": out of memory loading the tokenizer";
  } catch (const std::exception &e) {
    err = nameForErrors + ": cannot load the tokenizer (" + e.what() + ")";
  } catch (...) {
    err = nameForErrors + ": cannot load the tokenizer";
  }
  return nullptr;
}

xfmr_tokenizer *loadTokenizerFromDir(const std::string &dir, int64_t maxFileBytes,
                                     std::string *error) {
  std::string ignored;
  std::string &err = error ? *error : ignored;
  try {
    std::string vocabPath = dir + "/vocab.json", mergesPath = dir + "/merges.txt";
    if (missing(vocabPath) || missing(mergesPath)) {
      err = dir + ": no tokenizer (vocab.json and merges.txt)";
      return nullptr;
    }
    std::string vocabJson, mergesTxt;
    if (!xfmr::io::readRegularFile(vocabPath, maxFileBytes, &vocabJson, &err) ||
        !xfmr::io::readRegularFile(mergesPath, maxFileBytes, &mergesTxt, &err))
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

/// Beyond the header's contract: a NULL tokenizer, a text longer than
/// INT_MAX bytes (whose count might not fit the int returned) or running
/// out of memory returns 0 and sets xfmr_last_error(); 0 rather than -1 so
/// that the size-then-fill pattern of callers allocates nothing. A NULL
/// text is "", a negative cap or NULL ids is 0. Invalid UTF-8 is encoded
/// byte by byte like any other text.
extern "C" int xfmr_tokenize(xfmr_tokenizer *t, const char *text, int32_t *ids,
                             int cap) {
  if (!t) {
    setError("xfmr_tokenize: no tokenizer (NULL)");
    return 0;
  }
  size_t n = text ? std::strlen(text) : 0;
  if (n > size_t(INT_MAX)) {
    setError("xfmr_tokenize: a text of " + std::to_string(n) +
             " bytes, more than the " + std::to_string(INT_MAX) + " it takes");
    return 0;
  }
  if (!ids || cap < 0)
    cap = 0;
  // At most one token per byte, so count stays <= n <= INT_MAX.
  int count = 0;
  try {
    t->forEachPretoken(text, n, [&](std::string_view piece) {
      for (int32_t id : t->encodePiece(piece)) {
        if (count < cap)
          ids[count] = id;
        ++count;
      }
    });
  } catch (const std::bad_alloc &) {
    setError("xfmr_tokenize: out of memory");
    return 0;
  } catch (const std::exception &e) { // none expected; never past the C API
    setError(std::string("xfmr_tokenize: ") + e.what());
    return 0;
  }
  return count;
}

extern "C" const char *xfmr_token_bytes(const xfmr_tokenizer *t, int32_t id,
                                        size_t *len) {
  if (!t || id < 0 || size_t(id) >= t->bytesOf.size())
    return nullptr;
  if (len)
    *len = t->bytesOf[id].size();
  return t->bytesOf[id].data();
}

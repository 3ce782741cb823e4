// UTF-8, character classes and NFC over the generated tables
// (unicode_tables.cpp). NFC follows UAX #15: full canonical decomposition,
// canonical ordering, then composition of each starter with the marks that
// are not blocked from it; Hangul syllables are composed and decomposed
// arithmetically, as the standard defines them.
#include "unicode.h"

#include <algorithm>
#include <vector>

namespace xfmr::tok {
using namespace unicode_data;

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

CharClass classify(uint32_t cp) {
  if (cp < 0x80) { // the common case, without a search
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
      return CharClass::Letter;
    if (cp >= '0' && cp <= '9')
      return CharClass::Number;
    return cp == ' ' || (cp >= '\t' && cp <= '\r') ? CharClass::Space : CharClass::Other;
  }
  const ClassRange *end = kClassRanges + kClassRangeCount;
  const ClassRange *r = std::upper_bound(
      kClassRanges, end, cp, [](uint32_t c, const ClassRange &x) { return c < x.first; });
  if (r == kClassRanges || cp > (r - 1)->last)
    return CharClass::Other;
  return CharClass((r - 1)->cls);
}

const char *unicodeVersion() { return kUnicodeVersion; }

namespace {
// Hangul syllables: S = SBase + (L * VCount + V) * TCount + T.
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

/// Invalid UTF-8 bytes travel through NFC as these values (above any code
/// point) and come out as the same bytes.
constexpr uint32_t kRawByte = 0x110000;

uint8_t combiningClass(uint32_t cp) {
  if (cp < 0x300 || cp >= kRawByte)
    return 0;
  const CombiningRange *end = kCombiningClasses + kCombiningClassCount;
  const CombiningRange *r = std::upper_bound(
      kCombiningClasses, end, cp, [](uint32_t c, const CombiningRange &x) { return c < x.first; });
  return r == kCombiningClasses || cp > (r - 1)->last ? 0 : (r - 1)->ccc;
}

const Decomposition *findDecomposition(uint32_t cp) {
  const Decomposition *end = kDecompositions + kDecompositionCount;
  const Decomposition *d = std::lower_bound(
      kDecompositions, end, cp, [](const Decomposition &x, uint32_t c) { return x.cp < c; });
  return d != end && d->cp == cp ? d : nullptr;
}

void decompose(uint32_t cp, std::vector<uint32_t> &out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount)
      out.push_back(kTBase + s % kTCount);
    return;
  }
  // Canonical decompositions nest a few levels at most (U+1E08 -> U+00C7
  // U+0301 -> C U+0327 U+0301): the recursion is bounded by the table.
  if (const Decomposition *d = cp < 0xC0 || cp >= kRawByte ? nullptr : findDecomposition(cp)) {
    decompose(d->first, out);
    if (d->second)
      decompose(d->second, out);
    return;
  }
  out.push_back(cp);
}

/// The primary composite of a + b, or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition *end = kCompositions + kCompositionCount;
  const Composition *c = std::lower_bound(
      kCompositions, end, std::make_pair(a, b), [](const Composition &x, std::pair<uint32_t, uint32_t> k) {
        return x.first != k.first ? x.first < k.first : x.second < k.second;
      });
  return c != end && c->first == a && c->second == b ? c->composite : 0;
}
} // namespace

std::string toNfc(std::string_view text) {
  // Text below U+0300 (all of ASCII and Latin-1's precomposed letters) is
  // already NFC unless a mark follows: only longer texts pay for the rest.
  bool plain = true;
  for (unsigned char c : text)
    if (c >= 0xCC) { // lead bytes of U+0300 and above
      plain = false;
      break;
    }
  if (plain)
    return std::string(text);

  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    CodePoint c = decodeAt(text, i);
    if (c.cp == 0xFFFD && c.len == 1)
      cps.push_back(kRawByte + (unsigned char)text[i]);
    else
      decompose(c.cp, cps);
    i += c.len;
  }
  // Canonical ordering: a stable sort by combining class of each run of
  // marks (insertion sort: runs are a few marks long).
  for (size_t i = 1; i < cps.size(); ++i) {
    uint8_t cc = combiningClass(cps[i]);
    if (cc == 0)
      continue;
    for (size_t j = i; j > 0; --j) {
      uint8_t prev = combiningClass(cps[j - 1]);
      if (prev <= cc)
        break;
      std::swap(cps[j - 1], cps[j]);
    }
  }
  // Composition: a mark joins the last starter unless a mark of the same or
  // a higher class, or a starter, came between them.
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  size_t starter = 0;
  int lastClass = -1; // -1: no starter yet
  for (uint32_t cp : cps) {
    int cc = combiningClass(cp);
    if (lastClass >= 0 && (lastClass < cc || lastClass == 0)) {
      if (uint32_t composite = compose(out[starter], cp)) {
        out[starter] = composite;
        continue;
      }
    }
    if (cc == 0) {
      starter = out.size();
      lastClass = 0;
    } else if (lastClass >= 0) {
      lastClass = cc;
    }
    out.push_back(cp);
  }
  std::string s;
  s.reserve(text.size());
  for (uint32_t cp : out) {
    if (cp >= kRawByte)
      s += char(cp - kRawByte);
    else
      appendUtf8(s, cp);
  }
  return s;
}

} // namespace xfmr::tok

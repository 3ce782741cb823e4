// The Unicode the tokenizer needs: UTF-8 decoding, the character classes of
// the pre-tokenizer regexes (\p{L}, \p{N}, \s) and NFC. The tables come from
// scripts/gen_unicode_tables.py (unicode_tables.cpp); nothing here depends
// on the C library's locale, whose classes are not Unicode's (glibc's
// iswalpha takes Arabic-Indic digits and Roman numerals for letters).
#ifndef XFMR_RUNTIME_TOKENIZER_UNICODE_H
#define XFMR_RUNTIME_TOKENIZER_UNICODE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::tok {

/// One code point decoded from UTF-8 and its length in bytes. A byte that
/// does not start a valid sequence decodes as U+FFFD of length 1 (a real
/// U+FFFD has length 3), so invalid input is never lost or skipped.
struct CodePoint {
  uint32_t cp;
  size_t len;
};

/// Decodes the code point at s[i] (i < n), reading no further than s[n-1].
CodePoint decodeAt(const char *s, size_t n, size_t i);
inline CodePoint decodeAt(std::string_view s, size_t i) {
  return decodeAt(s.data(), s.size(), i);
}
void appendUtf8(std::string &out, uint32_t cp);

/// The classes the pre-tokenizer patterns distinguish. White_Space is never
/// a letter or a number, so one class per code point is enough.
enum class CharClass : uint8_t { Other = 0, Letter = 1, Number = 2, Space = 3 };
CharClass classify(uint32_t cp);
inline bool isWhiteSpace(uint32_t cp) { return classify(cp) == CharClass::Space; }

/// The text in Normalization Form C. Bytes that are not valid UTF-8 are kept
/// as they are (each one a starter that composes with nothing).
std::string toNfc(std::string_view text);

/// The Unicode version of the tables.
const char *unicodeVersion();

namespace unicode_data {
struct ClassRange {
  uint32_t first, last;
  uint8_t cls; // a CharClass
};
struct CombiningRange {
  uint32_t first, last;
  uint8_t ccc;
};
struct Decomposition {
  uint32_t cp, first, second; // second = 0: a singleton
};
struct Composition {
  uint32_t first, second, composite;
};
extern const ClassRange kClassRanges[];
extern const size_t kClassRangeCount;
extern const CombiningRange kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;
extern const char kUnicodeVersion[];
} // namespace unicode_data

} // namespace xfmr::tok

#endif

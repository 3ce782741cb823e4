#include "byte_level.h"

#include "unicode.h"

namespace xfmr::tok {
namespace {
struct Tables {
  uint32_t cpOfByte[256];
  int16_t byteOfCp[324]; // the alphabet's code points are all below 324
  Tables() {
    for (int16_t &b : byteOfCp)
      b = -1;
    uint32_t extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      cpOfByte[b] = printable ? uint32_t(b) : 256 + extra++;
      byteOfCp[cpOfByte[b]] = int16_t(b);
    }
  }
};
const Tables &tables() {
  static const Tables t;
  return t;
}
} // namespace

uint32_t byteLevelCodePoint(unsigned char b) { return tables().cpOfByte[b]; }

std::string toByteLevel(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw)
    appendUtf8(out, tables().cpOfByte[b]);
  return out;
}

bool fromByteLevel(std::string_view token, std::string *raw) {
  raw->clear();
  for (size_t i = 0; i < token.size();) {
    CodePoint c = decodeAt(token, i);
    if (c.cp >= 324 || tables().byteOfCp[c.cp] < 0 || (c.cp == 0xFFFD && c.len == 1))
      return false;
    *raw += char(tables().byteOfCp[c.cp]);
    i += c.len;
  }
  return true;
}

} // namespace xfmr::tok

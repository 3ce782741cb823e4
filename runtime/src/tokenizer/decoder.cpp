#include "decoder.h"

#include "byte_level.h"
#include "normalize.h"
#include "unicode.h"

namespace xfmr::tok {
namespace {
int hexDigit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/// s without up to `start` leading and `stop` trailing code points cp.
std::string stripped(const std::string &s, uint32_t cp, int32_t start, int32_t stop) {
  std::vector<size_t> at; // starts of the code points
  for (size_t i = 0; i < s.size(); i += decodeAt(s, i).len)
    at.push_back(i);
  size_t b = 0, e = at.size();
  while (b < e && int32_t(b) < start && decodeAt(s, at[b]).cp == cp)
    ++b;
  while (e > b && int32_t(at.size() - e) < stop && decodeAt(s, at[e - 1]).cp == cp)
    --e;
  size_t from = b < at.size() ? at[b] : s.size(), to = e < at.size() ? at[e] : s.size();
  return s.substr(from, to - from);
}
} // namespace

std::string tokenBytes(const DecoderSpec &spec, std::string_view token, bool added) {
  std::string s(token);
  if (spec.byteLevel) {
    std::string raw;
    return !added && fromByteLevel(token, &raw) ? raw : s;
  }
  for (const TokenDecodeStep &step : spec.perToken) {
    switch (step.kind) {
    case TokenDecodeStep::Replace:
      s = replaceAll(s, step.from, step.to);
      break;
    case TokenDecodeStep::ByteFallback:
      // "<0xNN>" is the byte NN; later steps see a byte, not text.
      if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' && hexDigit(s[3]) >= 0 &&
          hexDigit(s[4]) >= 0)
        return std::string(1, char(hexDigit(s[3]) * 16 + hexDigit(s[4])));
      break;
    case TokenDecodeStep::Strip:
      s = stripped(s, step.cp, step.start, step.stop);
      break;
    }
  }
  return s;
}

void Utf8Assembler::byte(unsigned char b, std::string &out) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  if (n_ > 0) {
    // The second byte's range depends on the first (no overlong forms, no
    // surrogates, nothing above U+10FFFF); later ones are 80..BF.
    unsigned char lo = 0x80, hi = 0xBF;
    if (n_ == 1) {
      unsigned char lead = pending_[0];
      lo = lead == 0xE0 ? 0xA0 : lead == 0xF0 ? 0x90 : 0x80;
      hi = lead == 0xED ? 0x9F : lead == 0xF4 ? 0x8F : 0xBF;
    }
    if (b >= lo && b <= hi) {
      pending_[n_++] = b;
      if (n_ == need_) {
        out.append(reinterpret_cast<const char *>(pending_), size_t(n_));
        n_ = 0;
      }
      return;
    }
    out += kReplacement; // the cut sequence; b starts afresh
    n_ = 0;
  }
  if (b < 0x80) {
    out += char(b);
  } else if (b >= 0xC2 && b <= 0xF4) {
    need_ = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    pending_[n_++] = b;
  } else {
    out += kReplacement;
  }
}

void Utf8Assembler::feed(std::string_view bytes, std::string &out) {
  for (unsigned char b : bytes)
    byte(b, out);
}

void Utf8Assembler::flush(std::string &out) {
  if (n_ > 0)
    out += "\xEF\xBF\xBD";
  n_ = 0;
}

std::string cleanUpTokenizationSpaces(std::string text) {
  // transformers' order (tokenization_utils_base.clean_up_tokenization).
  static const std::pair<const char *, const char *> kRules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto &[from, to] : kRules)
    text = replaceAll(text, from, to);
  return text;
}

} // namespace xfmr::tok

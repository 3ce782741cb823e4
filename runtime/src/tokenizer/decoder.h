// Decoding: ids back to text, as Hugging Face's decoders do it.
//
// Every decoder xfmr accepts is, token by token, a string of bytes (the
// byte-level alphabet undone, "▁" turned into a space, <0xNN> into its
// byte), computed once at load (tokenBytes), followed by what only the
// whole text can do: joining bytes into UTF-8 (invalid or cut sequences
// become U+FFFD, as TextDecoder and from_utf8_lossy give them), taking
// SentencePiece's leading space off the start, and, for a whole text when
// tokenizer_config.json asks, clean_up_tokenization_spaces.
#ifndef XFMR_RUNTIME_TOKENIZER_DECODER_H
#define XFMR_RUNTIME_TOKENIZER_DECODER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace xfmr::tok {

/// A step of decoding applied to each token alone (a decoder Sequence's
/// Replace, ByteFallback, and Strip before any Fuse).
struct TokenDecodeStep {
  enum Kind { Replace, ByteFallback, Strip } kind;
  std::string from, to;          // Replace: a non-empty literal -> text
  uint32_t cp = ' ';             // Strip: the code point taken off
  int32_t start = 0, stop = 0;   // Strip: at most so many at the start, the end
};

struct DecoderSpec {
  bool byteLevel = false;              // the ByteLevel decoder: tokens are byte-level
  std::vector<TokenDecodeStep> perToken;
  uint32_t stripCp = ' ';              // taken off the start of the text,
  int32_t stripCount = 0;              // at most this many times (Strip after Fuse, Metaspace)
};

/// What token `token` (as the file spells it) decodes to; `added`: an added
/// token, whose content a byte-level decoder keeps as it is (Hugging Face's
/// JS decoder does; its content is plain text).
std::string tokenBytes(const DecoderSpec &spec, std::string_view token, bool added);

/// Joins bytes into UTF-8 as they come: complete sequences go out, a cut
/// one waits (at most 3 bytes), an invalid one becomes U+FFFD (one per
/// maximal invalid subpart, as the WHATWG decoder counts them).
class Utf8Assembler {
public:
  void feed(std::string_view bytes, std::string &out);
  /// A sequence still cut becomes U+FFFD.
  void flush(std::string &out);
  void reset() { n_ = 0; }

private:
  void byte(unsigned char b, std::string &out);
  unsigned char pending_[4];
  int n_ = 0, need_ = 0;
};

/// transformers' clean_up_tokenization: " ." -> "." and the like.
std::string cleanUpTokenizationSpaces(std::string text);

} // namespace xfmr::tok

#endif

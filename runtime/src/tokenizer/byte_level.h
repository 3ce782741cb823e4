// GPT-2's byte-level alphabet: each of the 256 bytes written as one
// printable code point (bytes_to_unicode() of GPT-2's encoder.py), the form
// in which byte-level vocabularies (GPT-2, Llama 3, Qwen) store their tokens.
#ifndef XFMR_RUNTIME_TOKENIZER_BYTE_LEVEL_H
#define XFMR_RUNTIME_TOKENIZER_BYTE_LEVEL_H

#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::tok {

/// The code point that stands for byte b.
uint32_t byteLevelCodePoint(unsigned char b);

/// Raw bytes written in the byte-level alphabet.
std::string toByteLevel(std::string_view raw);

/// The raw bytes a byte-level token spells, into *raw; false when some
/// code point of it is not in the alphabet (a token such as an added
/// "<|im_start|>" written in plain text: Hugging Face's decoder then takes
/// the token's own UTF-8, and so do the callers).
bool fromByteLevel(std::string_view token, std::string *raw);

} // namespace xfmr::tok

#endif

// What the tokenizer's file readers share: quoting untrusted text into an
// error line, and parsing JSON only after its nesting is checked.
#ifndef XFMR_RUNTIME_TOKENIZER_LOAD_UTIL_H
#define XFMR_RUNTIME_TOKENIZER_LOAD_UTIL_H

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace xfmr::tok {

/// `s` quoted for a one-line error message: control bytes, quotes and
/// backslashes escaped, cut after 40 bytes.
std::string quote(std::string_view s);

/// Parses `text` (the contents of `path`) into *out after checking that it
/// nests at most xfmr::io::kMaxJsonDepth deep; false with a one-line
/// *error naming the path. Never throws for bad input.
bool parseJson(const std::string &text, const std::string &path, nlohmann::json *out,
               std::string *error, const nlohmann::json::parser_callback_t &callback = nullptr);

/// True when nothing is at `path` (a file that is there but cannot be read
/// is not missing: reading it reports why).
bool missing(const std::string &path);

} // namespace xfmr::tok

#endif

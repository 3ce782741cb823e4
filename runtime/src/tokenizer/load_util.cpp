#include "load_util.h"

#include "xfmr/io/files.h"

#include <cerrno>
#include <sys/stat.h>

namespace xfmr::tok {

std::string quote(std::string_view s) { return xfmr::io::quoted(s); }

bool parseJson(const std::string &text, const std::string &path, nlohmann::json *out,
               std::string *error, const nlohmann::json::parser_callback_t &callback) {
  const char *begin = text.data();
  if (!xfmr::io::jsonDepthWithin(begin, begin + text.size(), xfmr::io::kMaxJsonDepth)) {
    *error = path + ": JSON nested deeper than " + std::to_string(xfmr::io::kMaxJsonDepth) +
             " levels";
    return false;
  }
  *out = nlohmann::json::parse(text, callback, /*allow_exceptions=*/false);
  if (out->is_discarded()) {
    *error = path + ": not valid JSON";
    return false;
  }
  return true;
}

bool missing(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

} // namespace xfmr::tok

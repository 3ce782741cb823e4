// The runtime tokenizer's C API as the tokenizer tests call it: ids of a
// text, text of ids (checking the calls succeed), a file's bytes.
#ifndef XFMR_TEST_SUPPORT_TOKENIZER_CALLS_H
#define XFMR_TEST_SUPPORT_TOKENIZER_CALLS_H

#include "xfmr/runtime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tokenizer_calls {

using Ids = std::vector<int32_t>;

inline std::string readAll(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline Ids encode(xfmr_tokenizer *t, const std::string &s, unsigned flags = 0) {
  Ids ids(size_t(xfmr_tokenize_ex(t, s.data(), s.size(), nullptr, 0, flags)));
  xfmr_tokenize_ex(t, s.data(), s.size(), ids.data(), int(ids.size()), flags);
  return ids;
}

inline std::string decode(xfmr_tokenizer *t, const Ids &ids, unsigned flags = 0) {
  int64_t n = xfmr_detokenize(t, ids.data(), int(ids.size()), nullptr, 0, flags);
  EXPECT_GE(n, 0) << xfmr_last_error();
  std::string out(size_t(n < 0 ? 0 : n) + 1, '\0');
  EXPECT_EQ(xfmr_detokenize(t, ids.data(), int(ids.size()), out.data(), out.size(), flags), n);
  out.resize(size_t(n < 0 ? 0 : n));
  return out;
}

} // namespace tokenizer_calls

#endif

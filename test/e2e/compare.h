// Helpers of the end-to-end tests: temp dirs and logits comparison.
#ifndef XFMR_TEST_E2E_COMPARE_H
#define XFMR_TEST_E2E_COMPARE_H

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace xfmr::test {

/// ||a - b||_2 / ||b||_2 of one position's logits (a: float or double).
template <typename T>
double relativeL2(const T *a, const std::vector<double> &b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

inline double relativeL2(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

/// A fresh directory under $TMPDIR, removed by the destructor.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                       "/xfmr-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path = mkdtemp(buf.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

} // namespace xfmr::test

#endif

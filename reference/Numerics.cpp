#include "Numerics.h"

#include "xfmr/io/half.h"
#include "xfmr/io/quantize.h"

#include <cmath>
#include <vector>

namespace xfmr::reference::detail {

double gelu(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

double silu(double x) { return x / (1 + std::exp(-x)); }

double activate(mlir::xfmr::GatedActivation a, double x) {
  return a == mlir::xfmr::GatedActivation::gelu ? gelu(x) : silu(x);
}

void layerNorm(const double *x, int64_t n, const float *gamma,
               const float *beta, double eps, double *y) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; ++i)
    mean += x[i];
  mean /= double(n);
  for (int64_t i = 0; i < n; ++i)
    var += (x[i] - mean) * (x[i] - mean);
  var /= double(n);
  double denom = std::sqrt(var + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = (x[i] - mean) / denom * gamma[i] + beta[i];
}

void rmsNorm(const double *x, int64_t n, const float *gamma, double eps,
             double *y) {
  double ms = 0;
  for (int64_t i = 0; i < n; ++i)
    ms += x[i] * x[i];
  double denom = std::sqrt(ms / double(n) + eps);
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] / denom * gamma[i];
}

double roundToHalf(double x) {
  return io::halfToFloat(io::floatToHalf(float(x)));
}

double roundToBF16(double x) {
  return io::bf16ToFloat(io::floatToBF16(float(x)));
}

void roundInt8(double *x, int64_t n) {
  std::vector<float> f(x, x + n); // the kernels round f32 values
  io::roundInt8(f.data(), n);
  std::copy(f.begin(), f.end(), x);
}

double jitterFactor(uint64_t draw, double jitter) {
  constexpr uint64_t golden = 0x9e3779b97f4a7c15ull;
  uint64_t z = (draw + 2) * golden;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  double u = double(z >> 11) * 0x1p-53; // [0, 1)
  return 1 + jitter * (2 * u - 1);
}

} // namespace xfmr::reference::detail

void xfmr::reference::detail::rotate(const double *x, int64_t cols, int64_t hd,
                                     double position, llvm::ArrayRef<double> inv,
                                     double *y) {
  const int64_t half = hd / 2;
  for (int64_t i = 0; i < half; ++i) {
    double c = std::cos(position * inv[size_t(i)]), s = std::sin(position * inv[size_t(i)]);
    for (int64_t h0 = 0; h0 < cols; h0 += hd) {
      double x1 = x[h0 + i], x2 = x[h0 + i + half];
      y[h0 + i] = x1 * c - x2 * s;
      y[h0 + i + half] = x2 * c + x1 * s;
    }
  }
}

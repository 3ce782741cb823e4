// Every CPU kernel family against a plain float64 loop, on fresh random
// inputs at several shapes (sizes that are not multiples of the vector
// width included), with the work split over several calls as the thread
// pool splits it. Kernels are compiled by the real pipeline and JIT-ed.
#include "xfmr/Lowering/CPUTarget.h"
#include "xfmr/Lowering/KernelJit.h"
#include "xfmr/io/quantize.h"
#include "xfmr/io/half.h"

#include "mlir/AsmParser/AsmParser.h"
#include "xfmr/IR/XfmrDialect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace mlir;

namespace {
constexpr int64_t kMaxTokens = 16;

/// One kernel compiled from `@forward(args) { op }` by the real pipeline.
struct Kernel {
  std::unique_ptr<mlir::xfmr::JitKernel> jit;

  explicit Kernel(const std::string &forward, bool dot = false) {
    mlir::xfmr::CPUPipelineOptions o;
    o.maxTokens = kMaxTokens;
    o.vnni = dot && mlir::xfmr::CPUTarget::host().hasVNNI();
    o.bf16Dot = dot;
    // Without VNNI, dot products by AVX2 (as the driver does).
    o.avx2Dot = dot && !o.vnni && mlir::xfmr::CPUTarget::host().hasAVX2();
    // Prefill tiles of 16 rows use AMX where the CPU has it.
    o.amx = dot && mlir::xfmr::CPUTarget::host().hasAMX();
    std::string error;
    jit = mlir::xfmr::JitKernel::compile(forward, o, &error);
    if (!jit)
      ADD_FAILURE() << error << "\n" << forward;
  }

  /// Runs all units, split in three calls like three threads would.
  void run(std::vector<void *> buffers, int64_t n, int64_t pos) {
    ASSERT_NE(jit, nullptr);
    jit->run(buffers, n, pos, /*splits=*/3);
  }
};

std::mt19937 &rng() {
  static std::mt19937 g(std::random_device{}());
  return g;
}
std::vector<float> randomVec(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng());
  return v;
}

double relErr(const std::vector<float> &got, const std::vector<double> &want,
              size_t count) {
  double num = 0, den = 0;
  for (size_t i = 0; i < count; ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

std::string act(int64_t d) { return "tensor<?x" + std::to_string(d) + "xf32>"; }
std::string ten(std::vector<int64_t> s) {
  std::string r = "tensor<";
  for (int64_t d : s)
    r += std::to_string(d) + "x";
  return r + "f32>";
}

// -------------------------------------------------------- weight formats --
struct Format {
  const char *name;
  const char *type; // element type and encoding, after "tensor<RxC x"
  ::xfmr::io::QuantScheme scheme;
  bool vnni = false; // int8: integer dot products on quantized activations
};
using ::xfmr::io::WeightFormat;
const Format kF32{"f32", "f32", {}};
const Format kFormats[] = {
    kF32,
    {"bf16", "bf16", {WeightFormat::BF16, 0, true, false}},
    {"int8_f32scales", "i8, #xfmr.quant<bits = 8, group = 0, scale = f32>",
     {WeightFormat::Int8, 0, false, false}},
    {"int8_f16scales", "i8, #xfmr.quant<bits = 8, group = 0, scale = f16>",
     {WeightFormat::Int8, 0, true, false}},
    {"int4_g32", "i4, #xfmr.quant<bits = 4, group = 32, scale = f16>",
     {WeightFormat::Int4, 32, true, false}},
    {"int4_g32_zero_point",
     "i4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>",
     {WeightFormat::Int4, 32, true, true}},
    {"int4_g64_f32scales", "i4, #xfmr.quant<bits = 4, group = 64, scale = f32>",
     {WeightFormat::Int4, 64, false, false}},
    {"int8_vnni", "i8, #xfmr.quant<bits = 8, group = 0, scale = f16>",
     {WeightFormat::Int8, 0, true, false}, true},
    {"bf16_dot", "bf16", {WeightFormat::BF16, 0, true, false}, true},
    {"int4_g32_vnni", "i4, #xfmr.quant<bits = 4, group = 32, scale = f16>",
     {WeightFormat::Int4, 32, true, false}, true},
    {"int4_g32_zero_point_vnni",
     "i4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>",
     {WeightFormat::Int4, 32, true, true}, true},
    {"int4_g64_zero_point_vnni",
     "i4, #xfmr.quant<bits = 4, group = 64, scale = f16, zero_point = true>",
     {WeightFormat::Int4, 64, true, true}, true},
    // llama.cpp's Q8_0 blocks: int8 with one f16 scale per 32 k.
    {"int8_g32", "i8, #xfmr.quant<bits = 8, group = 32, scale = f16>",
     {WeightFormat::Int8, 32, true, false}},
    {"int8_g32_vnni", "i8, #xfmr.quant<bits = 8, group = 32, scale = f16>",
     {WeightFormat::Int8, 32, true, false}, true},
};

// llama.cpp's K-quants: super-blocks of 256 reduction elements, so their
// shapes are their own (K, D multiples of 256).
const Format kSuperBlockFormats[] = {
    {"q4_k", "i4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true, super = 256>",
     ::xfmr::io::q4KScheme()},
    {"q4_k_vnni",
     "i4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true, super = 256>",
     ::xfmr::io::q4KScheme(), true},
    {"q6_k", "i6, #xfmr.quant<bits = 6, group = 16, scale = f16, super = 256>",
     ::xfmr::io::q6KScheme()},
};

/// The activations as an AVX512-BF16 kernel sees them: rounded to bf16.
std::vector<float> bf16Activations(std::vector<float> x) {
  for (float &v : x)
    v = ::xfmr::io::bf16ToFloat(::xfmr::io::floatToBF16(v));
  return x;
}

/// The activations as a VNNI kernel sees them: each row quantized per
/// block of 32 (s = max|x| / 127, round half to even).
std::vector<float> vnniActivations(std::vector<float> x, int64_t rows, int64_t K) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t b = 0; b < K; b += 32)
      ::xfmr::io::roundInt8(x.data() + r * K + b, 32);
  return x;
}

std::string wten(int64_t r, int64_t c, const Format &f) {
  return "tensor<" + std::to_string(r) + "x" + std::to_string(c) + "x" + f.type + ">";
}

/// The weight as the kernel reads it, and its quantize-dequantize.
struct PackedWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> effective;
};
PackedWeight pack(const std::vector<float> &w, int64_t rows, int64_t cols,
                  bool reductionIsRows, const Format &f,
                  const mlir::xfmr::WeightLayout &layout) {
  PackedWeight p{mlir::xfmr::packWeight(w, layout), w};
  ::xfmr::io::fakeQuantize(p.effective, rows, cols, reductionIsRows, f.scheme);
  return p;
}

// ---------------------------------------------------------------- linear --
struct LinearShape {
  int64_t m, k, n;
  Format format = kF32;
};
void PrintTo(const LinearShape &s, std::ostream *os) {
  *os << s.format.name << " M=" << s.m << " K=" << s.k << " N=" << s.n;
}
class LinearKernel : public ::testing::TestWithParam<LinearShape> {};

TEST_P(LinearKernel, MatchesReference) {
  auto [M, K, N, f] = GetParam();
  std::string w = wten(K, N, f);
  std::string src = "func.func @forward(%x: " + act(K) + ", %w: " + w +
                    ", %b: " + ten({N}) + ") -> " + act(N) +
                    " {\n %y = xfmr.linear %x, %w, %b : " + act(K) + ", " + w +
                    ", " + ten({N}) + " -> " + act(N) + "\n return %y : " +
                    act(N) + "\n}";
  auto host = mlir::xfmr::CPUTarget::host();
  bool bf16 = f.scheme.format == WeightFormat::BF16;
  // Integer dot products: VNNI, or AVX2's byte multiply-adds.
  bool requested = f.vnni && (bf16 ? host.hasBF16() : host.hasVNNI() || host.hasAVX2());
  if (f.vnni && !requested)
    GTEST_SKIP() << "no AVX-512 VNNI or AVX2 / AVX512-BF16 on this CPU";
  Kernel k(src, requested);
  ASSERT_TRUE(k.jit);
  // VNNI needs 16-lane vectors and blocks of 32: narrower shapes fall back
  // to widening the weights, and the reference follows what was compiled.
  bool vnni = k.jit->layout(1).dot;
  if (requested && K % 32 == 0 && N % 32 == 0)
    ASSERT_TRUE(vnni) << "VNNI was requested and the shape allows it";
  auto x = randomVec(size_t(kMaxTokens * K)), wf = randomVec(size_t(K * N)),
       b = randomVec(size_t(N));
  std::vector<float> xr = !vnni ? x : bf16 ? bf16Activations(x) : vnniActivations(x, M, K);
  PackedWeight pw = pack(wf, K, N, /*reductionIsRows=*/true, f, k.jit->layout(1));
  std::vector<float> y(size_t(kMaxTokens * N), NAN);
  k.run({x.data(), pw.bytes.data(), b.data(), y.data()}, M, 0);
  std::vector<double> ref(size_t(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = b[size_t(j)];
      for (int64_t kk = 0; kk < K; ++kk)
        s += double(xr[size_t(i * K + kk)]) * pw.effective[size_t(kk * N + j)];
      ref[size_t(i * N + j)] = s;
    }
  EXPECT_LT(relErr(y, ref, size_t(M * N)), 2e-6);
}

std::vector<LinearShape> linearCases() {
  std::vector<LinearShape> c = {{1, 64, 192}, {5, 64, 192}, {9, 24, 40},
                                {16, 16, 16}, {3, 7, 12},   {4, 128, 320}};
  for (const Format &f : kFormats)
    for (auto [m, kk, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 128, 192},
                            {6, 64, 96}, {5, 256, 32},
                            {3, 128, 40}, // 40 columns: not a multiple of 16
                            {16, 128, 192}}) // one 16-row tile (AMX for int8)
      c.push_back({m, kk, n, f});
  for (const Format &f : kSuperBlockFormats)
    for (auto [m, kk, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 256, 192},
                            {6, 512, 96}, {5, 256, 32}, {16, 256, 64}})
      c.push_back({m, kk, n, f});
  return c;
}
INSTANTIATE_TEST_SUITE_P(Shapes, LinearKernel, ::testing::ValuesIn(linearCases()));

// ---------------------------------------------------- fused linear parts --
// The prologue (layer or RMS norm of the input rows) and epilogue
// (activation, residual) that the fusion passes fold into xfmr.linear.
struct Fusion {
  const char *name;
  bool norm, normBias; // norm(gamma) [norm_bias(beta)]: layer norm with beta
  const char *activation; // "" | "gelu" | "silu"
  bool residual;
  bool times = false; // gate multiply: act(...) * u
  bool gated = false; // weight [Wg | Wu] of 2N columns: act(x Wg) * (x Wu)
};
const Fusion kFusions[] = {{"layer_norm_gelu", true, true, "gelu", false},
                           {"rms_norm_silu", true, false, "silu", false},
                           {"residual", false, false, "", true},
                           {"layer_norm_gelu_residual", true, true, "gelu", true},
                           {"rms_norm_silu_times_residual", true, false, "silu", true, true},
                           {"rms_norm_gated_silu", true, false, "silu", false, false, true},
                           {"gated_gelu_times_residual", false, false, "gelu", true, true, true}};
struct FusedShape {
  int64_t m, k, n;
  Format format;
  Fusion fusion;
};
void PrintTo(const FusedShape &s, std::ostream *os) {
  *os << s.format.name << " " << s.fusion.name << " M=" << s.m << " K=" << s.k
      << " N=" << s.n;
}
class FusedLinearKernel : public ::testing::TestWithParam<FusedShape> {};

/// Rows normalized in float64 as the fused prologue defines them.
std::vector<double> normalizeRows(const std::vector<float> &x, int64_t rows,
                                  int64_t K, const std::vector<float> &g,
                                  const std::vector<float> *beta) {
  std::vector<double> y(size_t(rows * K));
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = x.data() + r * K;
    double mean = 0, var = 0;
    if (beta)
      for (int64_t i = 0; i < K; ++i)
        mean += row[i] / double(K);
    for (int64_t i = 0; i < K; ++i)
      var += (row[i] - mean) * (row[i] - mean) / double(K);
    double rstd = 1 / std::sqrt(var + 1e-5);
    for (int64_t i = 0; i < K; ++i)
      y[size_t(r * K + i)] = (row[i] - mean) * rstd * g[size_t(i)] +
                             (beta ? (*beta)[size_t(i)] : 0.0);
  }
  return y;
}

/// Whether some value sits within 1e-4 of a code boundary of its block's
/// int8 rounding, where float32 and float64 may round it differently.
bool nearRoundingBoundary(const std::vector<double> &x) {
  for (size_t b = 0; b + 32 <= x.size(); b += 32) {
    double m = 0;
    for (size_t i = b; i < b + 32; ++i)
      m = std::max(m, std::fabs(x[i]));
    for (size_t i = b; i < b + 32 && m > 0; ++i) {
      double t = std::fabs(x[i]) * 127 / m;
      if (std::fabs(t - std::floor(t) - 0.5) < 1e-4)
        return true;
    }
  }
  return false;
}

TEST_P(FusedLinearKernel, MatchesReference) {
  auto [M, K, N, f, fu] = GetParam();
  const int64_t WN = fu.gated ? 2 * N : N; // weight columns
  std::string w = wten(K, WN, f), args = "%x: " + act(K) + ", %w: " + w + ", %b: " + ten({WN});
  std::string op = " %y = xfmr.linear %x, %w, %b";
  if (fu.norm) {
    args += ", %g: " + ten({K});
    op += " norm(%g : " + ten({K}) + ")";
  }
  if (fu.normBias) {
    args += ", %be: " + ten({K});
    op += " norm_bias(%be : " + ten({K}) + ")";
  }
  if (*fu.activation)
    op += std::string(" activation(") + fu.activation + ")";
  if (fu.gated)
    op += " gated";
  if (fu.times) {
    args += ", %u: " + act(N);
    op += " times(%u : " + act(N) + ")";
  }
  if (fu.residual) {
    args += ", %r: " + act(N);
    op += " residual(%r : " + act(N) + ")";
  }
  if (fu.norm)
    op += " {norm_epsilon = 1.0e-05 : f64}";
  op += " : " + act(K) + ", " + w + ", " + ten({WN}) + " -> " + act(N);
  std::string src = "func.func @forward(" + args + ") -> " + act(N) + " {\n" + op +
                    "\n return %y : " + act(N) + "\n}";
  auto host = mlir::xfmr::CPUTarget::host();
  bool requested = f.vnni && (host.hasVNNI() || host.hasAVX2());
  if (f.vnni && !requested)
    GTEST_SKIP() << "no AVX-512 VNNI or AVX2 on this CPU";
  Kernel k(src, requested);
  ASSERT_TRUE(k.jit);
  bool vnni = k.jit->layout(1).dot;
  auto g = randomVec(size_t(K)), be = randomVec(size_t(K));
  std::vector<float> x;
  std::vector<double> xin;
  // VNNI rounds the (normalized) rows: draw inputs with no value next to a
  // code boundary, so float32 and float64 round every value alike.
  for (int attempt = 0; attempt < 100; ++attempt) {
    x = randomVec(size_t(kMaxTokens * K), 2.f);
    xin = fu.norm ? normalizeRows(x, M, K, g, fu.normBias ? &be : nullptr)
                  : std::vector<double>(x.begin(), x.begin() + M * K);
    if (!vnni || !nearRoundingBoundary(xin))
      break;
  }
  if (vnni) {
    std::vector<float> xf(xin.begin(), xin.end());
    xf = vnniActivations(xf, M, K);
    xin.assign(xf.begin(), xf.end());
  }
  auto wf = randomVec(size_t(K * WN)), b = randomVec(size_t(WN)),
       r = randomVec(size_t(kMaxTokens * N)), u = randomVec(size_t(kMaxTokens * N));
  PackedWeight pw = pack(wf, K, WN, /*reductionIsRows=*/true, f, k.jit->layout(1));
  ASSERT_EQ(k.jit->layout(1).gated, fu.gated);
  std::vector<float> y(size_t(kMaxTokens * N), NAN);
  std::vector<void *> buffers{x.data(), pw.bytes.data(), b.data()};
  if (fu.norm)
    buffers.push_back(g.data());
  if (fu.normBias)
    buffers.push_back(be.data());
  if (fu.residual) // buffers follow the op's operand order
    buffers.push_back(r.data());
  if (fu.times)
    buffers.push_back(u.data());
  buffers.push_back(y.data());
  k.run(buffers, M, 0);
  std::vector<double> ref(size_t(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      auto column = [&](int64_t c) {
        double s = b[size_t(c)];
        for (int64_t kk = 0; kk < K; ++kk)
          s += xin[size_t(i * K + kk)] * pw.effective[size_t(kk * WN + c)];
        return s;
      };
      double s = column(j);
      if (std::string(fu.activation) == "gelu")
        s = 0.5 * s * (1 + std::tanh(0.7978845608028654 * (s + 0.044715 * s * s * s)));
      else if (std::string(fu.activation) == "silu")
        s = s / (1 + std::exp(-s));
      if (fu.gated) // the up half: columns N .. 2N
        s *= column(N + j);
      if (fu.times)
        s *= u[size_t(i * N + j)];
      if (fu.residual)
        s += r[size_t(i * N + j)];
      ref[size_t(i * N + j)] = s;
    }
  EXPECT_LT(relErr(y, ref, size_t(M * N)), 2e-6);
}

std::vector<FusedShape> fusedCases() {
  std::vector<FusedShape> c;
  const Format *formats[] = {&kFormats[0], &kFormats[1], &kFormats[3],
                             &kFormats[4], &kFormats[7], &kFormats[9]};
  // M = 1 and 3: the few-rows path (rows prepared once per call); M = 6
  // (quantized: a 4-row tile and a remainder) and M = 11 (f32/bf16: an
  // 8-row tile and a remainder): the prefill path, rows prepared once per
  // call into heap scratch.
  for (const Format *f : formats)
    for (const Fusion &fu : kFusions)
      for (auto [m, kk, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 128, 192},
                              {3, 64, 96}, {6, 128, 64}, {11, 64, 96}, {16, 64, 128}})
        c.push_back({m, kk, n, *f, fu});
  c.push_back({5, 24, 40, kF32, kFusions[0]}); // rows not a multiple of 16
  return c;
}
INSTANTIATE_TEST_SUITE_P(Shapes, FusedLinearKernel, ::testing::ValuesIn(fusedCases()));

// --------------------------------------------------------------- lm_head --
struct TableCase {
  int64_t m, d, v;
  Format format = kF32;
};
void PrintTo(const TableCase &s, std::ostream *os) {
  *os << s.format.name << " M=" << s.m << " D=" << s.d << " V=" << s.v;
}
class LMHeadKernel : public ::testing::TestWithParam<TableCase> {};

TEST_P(LMHeadKernel, MatchesReference) {
  auto [M, D, V, f] = GetParam();
  std::string e = wten(V, D, f);
  std::string src = "func.func @forward(%x: " + act(D) + ", %e: " + e + ") -> " +
                    act(V) + " {\n %y = xfmr.lm_head %x, %e : " + act(D) + ", " +
                    e + " -> " + act(V) + "\n return %y : " + act(V) + "\n}";
  auto host = mlir::xfmr::CPUTarget::host();
  bool vnni = f.vnni && D % 32 == 0 &&
              (host.hasVNNI() || host.hasAVX2());
  if (f.vnni && !vnni)
    GTEST_SKIP() << "no AVX-512 VNNI on this CPU, or D not a multiple of 32";
  Kernel k(src, vnni);
  ASSERT_TRUE(k.jit);
  auto x = randomVec(size_t(kMaxTokens * D)), ef = randomVec(size_t(V * D));
  // The LM head rounds its input with int8 rows and int4 rows in groups of
  // 32 (other int4 groups: weight-only).
  bool roundsInput = vnni && (f.scheme.format == WeightFormat::Int8 ||
                              (f.scheme.format == WeightFormat::Int4 && f.scheme.group == 32));
  std::vector<float> xr = roundsInput ? vnniActivations(x, M, D) : x;
  PackedWeight pe = pack(ef, V, D, /*reductionIsRows=*/false, f, k.jit->layout(1));
  std::vector<float> y(size_t(kMaxTokens * V), NAN);
  k.run({x.data(), pe.bytes.data(), y.data()}, M, 0);
  std::vector<double> ref(size_t(M * V));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t v = 0; v < V; ++v) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d)
        s += double(xr[size_t(i * D + d)]) * pe.effective[size_t(v * D + d)];
      ref[size_t(i * V + v)] = s;
    }
  EXPECT_LT(relErr(y, ref, size_t(M * V)), 2e-6);
}

std::vector<TableCase> tableCases() {
  std::vector<TableCase> c = {{1, 64, 100}, {3, 24, 7}, {5, 48, 130}};
  for (const Format &f : kFormats)
    for (auto [m, d, v] : {std::tuple<int64_t, int64_t, int64_t>{1, 128, 77},
                           {3, 64, 130},
                           {6, 64, 70}}) // more rows than are quantized once per call
      c.push_back({m, d, v, f});
  for (const Format &f : kSuperBlockFormats)
    for (auto [m, d, v] : {std::tuple<int64_t, int64_t, int64_t>{1, 256, 77}, {6, 512, 70}})
      c.push_back({m, d, v, f});
  return c;
}
INSTANTIATE_TEST_SUITE_P(Shapes, LMHeadKernel, ::testing::ValuesIn(tableCases()));

// ----------------------------------------------------------------- norms --
TEST(NormKernels, MatchReference) {
  for (int64_t D : {8, 24, 64, 96}) {
    for (bool rms : {false, true}) {
      std::string op =
          rms ? "%y = xfmr.rms_norm %x, %g {epsilon = 1.0e-06 : f64} : " + act(D) +
                    ", " + ten({D}) + " -> " + act(D)
              : "%y = xfmr.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64} : " +
                    act(D) + ", " + ten({D}) + ", " + ten({D}) + " -> " + act(D);
      std::string src = "func.func @forward(%x: " + act(D) + ", %g: " + ten({D}) +
                        ", %b: " + ten({D}) + ") -> " + act(D) + " {\n " + op +
                        "\n return %y : " + act(D) + "\n}";
      Kernel k(src);
      const int64_t M = 5;
      auto x = randomVec(size_t(kMaxTokens * D), 3.f), g = randomVec(size_t(D)),
           b = randomVec(size_t(D));
      for (float &v : x)
        v += 2.f; // a mean far from zero
      std::vector<float> y(size_t(kMaxTokens * D), NAN);
      std::vector<void *> bufs{x.data(), g.data()};
      if (!rms)
        bufs.push_back(b.data());
      bufs.push_back(y.data());
      k.run(bufs, M, 0);
      std::vector<double> ref(size_t(M * D));
      for (int64_t i = 0; i < M; ++i) {
        double mean = 0, var = 0;
        for (int64_t d = 0; d < D; ++d)
          mean += x[size_t(i * D + d)];
        mean = rms ? 0 : mean / double(D);
        for (int64_t d = 0; d < D; ++d)
          var += (x[size_t(i * D + d)] - mean) * (x[size_t(i * D + d)] - mean);
        double r = 1 / std::sqrt(var / double(D) + (rms ? 1e-6 : 1e-5));
        for (int64_t d = 0; d < D; ++d)
          ref[size_t(i * D + d)] = (x[size_t(i * D + d)] - mean) * r * g[size_t(d)] +
                                   (rms ? 0.0 : b[size_t(d)]);
      }
      EXPECT_LT(relErr(y, ref, size_t(M * D)), 1e-6) << (rms ? "rms " : "ln ") << D;
    }
  }
}

// ------------------------------------------------------------ element-wise --
double gelu(double v) {
  return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
}
double silu(double v) { return v / (1 + std::exp(-v)); }

TEST(ElementwiseKernels, MatchReference) {
  for (int64_t D : {16, 40, 96}) {
    for (std::string op : {"gelu", "silu", "add", "glu_silu", "glu_gelu"}) {
      bool binary = op != "gelu" && op != "silu";
      std::string body;
      if (op == "gelu" || op == "silu")
        body = "%y = xfmr." + op + " %a : " + act(D);
      else if (op == "add")
        body = "%y = xfmr.add %a, %c : " + act(D);
      else
        body = "%y = xfmr.glu %a, %c, " + op.substr(4) + " : " + act(D);
      std::string src = "func.func @forward(%a: " + act(D) + ", %c: " + act(D) +
                        ") -> " + act(D) + " {\n " + body + "\n return %y : " +
                        act(D) + "\n}";
      Kernel k(src);
      const int64_t M = 7;
      auto a = randomVec(size_t(kMaxTokens * D), 3.f),
           c = randomVec(size_t(kMaxTokens * D));
      std::vector<float> y(size_t(kMaxTokens * D), NAN);
      std::vector<void *> bufs{a.data()};
      if (binary)
        bufs.push_back(c.data());
      bufs.push_back(y.data());
      k.run(bufs, M, 0);
      std::vector<double> ref(size_t(M * D));
      for (size_t i = 0; i < ref.size(); ++i) {
        double x = a[i], z = c[i];
        ref[i] = op == "gelu" ? gelu(x) : op == "silu" ? silu(x)
               : op == "add"  ? x + z
               : op == "glu_silu" ? silu(x) * z : gelu(x) * z;
      }
      EXPECT_LT(relErr(y, ref, ref.size()), 2e-6) << op << " " << D;
    }
  }
}

// ------------------------------------------------------------- embedding --
class EmbeddingKernel : public ::testing::TestWithParam<Format> {};

TEST_P(EmbeddingKernel, MatchesReference) {
  const Format &f = GetParam();
  const int64_t V = 50, D = f.scheme.superBlock ? 512 : 64, C = 32, M = 6, pos = 9;
  for (bool positions : {true, false}) {
    std::string table = wten(V, D, f);
    std::string types = "tensor<?xi32>, " + table +
                        (positions ? ", " + ten({C, D}) : std::string());
    std::string src = "func.func @forward(%t: tensor<?xi32>, %e: " + table +
                      ", %p: " + ten({C, D}) + ", %pos: index) -> " + act(D) +
                      " {\n %y = xfmr.embedding %t, %e" +
                      (positions ? ", %p" : "") + " at %pos : " + types + " -> " +
                      act(D) + "\n return %y : " + act(D) + "\n}";
    Kernel k(src);
    ASSERT_TRUE(k.jit);
    std::vector<int32_t> tok(kMaxTokens);
    for (int64_t i = 0; i < M; ++i)
      tok[size_t(i)] = int32_t(rng()() % V);
    auto ef = randomVec(size_t(V * D)), p = randomVec(size_t(C * D));
    PackedWeight pe = pack(ef, V, D, /*reductionIsRows=*/false, f, k.jit->layout(1));
    std::vector<float> y(size_t(kMaxTokens * D), NAN);
    std::vector<void *> bufs{tok.data(), pe.bytes.data()};
    if (positions)
      bufs.push_back(p.data());
    bufs.push_back(y.data());
    k.run(bufs, M, pos);
    std::vector<double> ref(size_t(M * D));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t d = 0; d < D; ++d)
        ref[size_t(i * D + d)] =
            double(pe.effective[size_t(tok[size_t(i)] * D + d)]) +
            (positions ? p[size_t((pos + i) * D + d)] : 0.f);
    EXPECT_LT(relErr(y, ref, ref.size()), 1e-6) << (positions ? "with" : "without")
                                                << " positions";
  }
}
INSTANTIATE_TEST_SUITE_P(Formats, EmbeddingKernel, ::testing::ValuesIn(kFormats),
                         [](const auto &info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(SuperBlockFormats, EmbeddingKernel,
                         ::testing::ValuesIn(kSuperBlockFormats),
                         [](const auto &info) { return std::string(info.param.name); });

// ---------------------------------------------------------------- rotary --
TEST(RotaryKernel, MatchesReference) {
  for (int64_t hd : {8, 16}) {
    const int64_t H = 3, D = H * hd, M = 4, pos = 11;
    const double theta = 10000.0;
    std::string src = "func.func @forward(%x: " + act(D) + ", %pos: index) -> " +
                      act(D) + " {\n %y = xfmr.rotary %x at %pos {head_dim = " +
                      std::to_string(hd) +
                      " : i64, theta = 10000.0 : f64} : " + act(D) +
                      "\n return %y : " + act(D) + "\n}";
    Kernel k(src);
    auto x = randomVec(size_t(kMaxTokens * D));
    std::vector<float> y(size_t(kMaxTokens * D), NAN);
    k.run({x.data(), y.data()}, M, pos);
    std::vector<double> ref(size_t(M * D));
    for (int64_t t = 0; t < M; ++t)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < hd / 2; ++i) {
          double ang = double(pos + t) * std::pow(theta, -2.0 * double(i) / double(hd));
          size_t i1 = size_t(t * D + h * hd + i), i2 = i1 + size_t(hd / 2);
          ref[i1] = x[i1] * std::cos(ang) - x[i2] * std::sin(ang);
          ref[i2] = x[i2] * std::cos(ang) + x[i1] * std::sin(ang);
        }
    EXPECT_LT(relErr(y, ref, ref.size()), 1e-5) << "head_dim " << hd;
  }
}

// ------------------------------------------------------------- attention --
struct AttentionShape {
  int64_t heads, kvHeads, headDim, n, pos;
  const char *storage = "f32"; // the cache's element type
};
void PrintTo(const AttentionShape &s, std::ostream *os) {
  *os << s.storage << " heads=" << s.heads << " kv_heads=" << s.kvHeads
      << " head_dim=" << s.headDim << " n=" << s.n << " pos=" << s.pos;
}
class AttentionKernel : public ::testing::TestWithParam<AttentionShape> {};

std::string cacheType(int64_t kvHeads, int64_t context, int64_t headDim) {
  return "!xfmr.kv_cache<layers = 1, heads = " + std::to_string(kvHeads) + ", context = " +
         std::to_string(context) + ", head_dim = " + std::to_string(headDim) + ", f32>";
}

/// @forward(%q, %k, %v, %c, %pos) of one xfmr.attention, its attribute
/// dictionary extended by `attrs` (", name = value").
std::string attentionSource(const AttentionShape &sh, int64_t C, const std::string &attrs) {
  const int64_t QD = sh.heads * sh.headDim, KD = sh.kvHeads * sh.headDim;
  std::string cache = cacheType(sh.kvHeads, C, sh.headDim);
  return "func.func @forward(%q: " + act(QD) + ", %k: " + act(KD) + ", %v: " + act(KD) +
         ", %c: " + cache + ", %pos: index) -> " + act(QD) +
         " {\n %y = xfmr.attention(%q, %k, %v), %c at %pos {layer = 0 : i64, num_heads = " +
         std::to_string(sh.heads) + " : i64" + attrs + "} : (" + act(QD) + ", " + act(KD) +
         ", " + act(KD) + "), " + cache + " -> " + act(QD) + "\n return %y : " + act(QD) +
         "\n}";
}

/// Causal attention of rows q (n rows at pos, [n][heads * head_dim]) over
/// caches [kv_heads][C][head_dim] already holding the new keys and values.
template <typename T>
std::vector<double> attentionReference(const std::vector<T> &q, const std::vector<T> &kc,
                                       const std::vector<T> &vc, const AttentionShape &sh,
                                       int64_t C) {
  const int64_t H = sh.heads, KVH = sh.kvHeads, hd = sh.headDim, QD = H * hd;
  std::vector<double> ref(size_t(sh.n * QD), 0.0);
  for (int64_t h = 0; h < H; ++h) {
    int64_t g = h / (H / KVH);
    for (int64_t t = 0; t < sh.n; ++t) {
      int64_t L = sh.pos + t + 1;
      std::vector<double> s(static_cast<size_t>(L));
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j < L; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d)
          dot += double(q[size_t(t * QD + h * hd + d)]) * double(kc[size_t((g * C + j) * hd + d)]);
        s[size_t(j)] = dot / std::sqrt(double(hd));
        mx = std::max(mx, s[size_t(j)]);
      }
      for (double &x : s)
        z += (x = std::exp(x - mx));
      for (int64_t j = 0; j < L; ++j)
        for (int64_t d = 0; d < hd; ++d)
          ref[size_t(t * QD + h * hd + d)] +=
              s[size_t(j)] / z * double(vc[size_t((g * C + j) * hd + d)]);
    }
  }
  return ref;
}

/// Rotates each head_dim-wide head of n rows at pos (rotate-half pairing).
std::vector<double> rotated(const std::vector<float> &x, int64_t width, int64_t n,
                            int64_t pos, int64_t hd, const SmallVector<double> &freq) {
  std::vector<double> y(x.begin(), x.end());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h0 = 0; h0 < width; h0 += hd)
      for (int64_t i = 0; i < hd / 2; ++i) {
        double ang = double(pos + t) * freq[size_t(i)];
        size_t i1 = size_t(t * width + h0 + i), i2 = i1 + size_t(hd / 2);
        y[i1] = x[i1] * std::cos(ang) - x[i2] * std::sin(ang);
        y[i2] = x[i2] * std::cos(ang) + x[i1] * std::sin(ang);
      }
  return y;
}

TEST_P(AttentionKernel, MatchesReferenceAndAppendsTheCache) {
  auto [H, KVH, hd, M, pos, storage] = GetParam();
  const int64_t C = 40, QD = H * hd, KD = KVH * hd;
  std::string cache = cacheType(KVH, C, hd);
  Kernel k(attentionSource(GetParam(), C, ""));
  auto q = randomVec(size_t(kMaxTokens * QD)), kk = randomVec(size_t(kMaxTokens * KD)),
       v = randomVec(size_t(kMaxTokens * KD));
  // Positions [0, pos) already hold earlier keys and values.
  auto kc = randomVec(size_t(KVH * C * hd)), vc = randomVec(size_t(KVH * C * hd));
  auto kc0 = kc, vc0 = vc;
  std::vector<float> y(size_t(kMaxTokens * QD), NAN);
  k.run({q.data(), kk.data(), v.data(), kc.data(), vc.data(), y.data()}, M, pos);

  for (int64_t g = 0; g < KVH; ++g)
    for (int64_t t = 0; t < M; ++t)
      for (int64_t d = 0; d < hd; ++d) {
        size_t at = size_t((g * C + pos + t) * hd + d), src = size_t(t * KD + g * hd + d);
        kc0[at] = kk[src];
        vc0[at] = v[src];
      }
  EXPECT_EQ(kc, kc0) << "key cache";
  EXPECT_EQ(vc, vc0) << "value cache";

  std::vector<double> ref = attentionReference(q, kc0, vc0, GetParam(), C);
  EXPECT_LT(relErr(y, ref, ref.size()), 1e-5);

  // The packed form (a fused QKV projection's output, rows [q | k | v])
  // computes the same cache and output.
  const int64_t PD = QD + 2 * KD;
  std::string packedSrc =
      "func.func @forward(%qkv: " + act(PD) + ", %c: " + cache +
      ", %pos: index) -> " + act(QD) + " {\n %y = xfmr.attention(%qkv), %c at %pos " +
      "{layer = 0 : i64, num_heads = " + std::to_string(H) + " : i64} : (" + act(PD) +
      "), " + cache + " -> " + act(QD) + "\n return %y : " + act(QD) + "\n}";
  Kernel packed(packedSrc);
  std::vector<float> qkv(size_t(kMaxTokens * PD));
  for (int64_t t = 0; t < kMaxTokens; ++t)
    for (int64_t c = 0; c < PD; ++c)
      qkv[size_t(t * PD + c)] = c < QD        ? q[size_t(t * QD + c)]
                                : c < QD + KD ? kk[size_t(t * KD + c - QD)]
                                              : v[size_t(t * KD + c - QD - KD)];
  auto pkc = randomVec(size_t(KVH * C * hd)), pvc = randomVec(size_t(KVH * C * hd));
  // Same earlier positions as above: copy them from the expected caches.
  for (size_t i = 0; i < pkc.size(); ++i)
    if (int64_t(i / size_t(hd)) % C < pos)
      pkc[i] = kc0[i], pvc[i] = vc0[i];
  std::vector<float> py(size_t(kMaxTokens * QD), NAN);
  packed.run({qkv.data(), pkc.data(), pvc.data(), py.data()}, M, pos);
  for (size_t i = 0; i < pkc.size(); ++i)
    if (int64_t(i / size_t(hd)) % C < pos + M) {
      EXPECT_EQ(pkc[i], kc0[i]) << "packed key cache at " << i;
      EXPECT_EQ(pvc[i], vc0[i]) << "packed value cache at " << i;
    }
  EXPECT_LT(relErr(py, ref, ref.size()), 1e-5) << "packed";
}

/// f16 and int8 caches: a first call fills positions [0, pos), a second
/// appends n more and attends over all; the reference sees every key and
/// value rounded as the cache stores it.
// With rope_theta (xfmr-fuse-rotary), keys are rotated before they are
// cached and queries as they are loaded: the same as rotating both first.
TEST_P(AttentionKernel, RotatesQueriesAndKeysInside) {
  auto [H, KVH, hd, M, pos, storage] = GetParam();
  const int64_t C = 40, QD = H * hd, KD = KVH * hd;
  // llama3 scaling with a short original context, so that at these
  // positions some frequencies are kept, some divided and some blended.
  const char *scaling = "#xfmr.rope_scaling<kind = \"llama3\", factor = 8.0, "
                        "original_context = 16>";
  Kernel k(attentionSource(GetParam(), C,
                           std::string(", rope_theta = 5.0e5 : f64, rope_scaling = ") + scaling));
  mlir::MLIRContext ctx;
  ctx.loadDialect<mlir::xfmr::XfmrDialect>();
  auto scalingAttr = mlir::cast<mlir::xfmr::RopeScalingAttr>(mlir::parseAttribute(scaling, &ctx));
  SmallVector<double> freq = mlir::xfmr::ropeInverseFrequencies(hd, 5e5, scalingAttr);
  auto q = randomVec(size_t(kMaxTokens * QD)), kk = randomVec(size_t(kMaxTokens * KD)),
       v = randomVec(size_t(kMaxTokens * KD));
  auto kc = randomVec(size_t(KVH * C * hd)), vc = randomVec(size_t(KVH * C * hd));
  std::vector<double> kc0(kc.begin(), kc.end()), vc0(vc.begin(), vc.end());
  std::vector<float> y(size_t(kMaxTokens * QD), NAN);
  k.run({q.data(), kk.data(), v.data(), kc.data(), vc.data(), y.data()}, M, pos);

  std::vector<double> kr = rotated(kk, KD, M, pos, hd, freq), qr = rotated(q, QD, M, pos, hd, freq);
  for (int64_t g = 0; g < KVH; ++g)
    for (int64_t t = 0; t < M; ++t)
      for (int64_t d = 0; d < hd; ++d) {
        size_t at = size_t((g * C + pos + t) * hd + d), src = size_t(t * KD + g * hd + d);
        kc0[at] = kr[src];
        vc0[at] = v[src];
      }
  EXPECT_LT(relErr(kc, kc0, kc0.size()), 1e-6) << "rotated keys in the cache";
  std::vector<double> ref = attentionReference(qr, kc0, vc0, GetParam(), C);
  EXPECT_LT(relErr(y, ref, ref.size()), 1e-5);
}

class CacheAttentionKernel : public ::testing::TestWithParam<AttentionShape> {};

TEST_P(CacheAttentionKernel, MatchesRoundedReference) {
  const AttentionShape &shape = GetParam();
  const int64_t H = shape.heads, KVH = shape.kvHeads, hd = shape.headDim,
                M = shape.n, pos = shape.pos;
  const char *storage = shape.storage;
  std::string st = storage;
  const int64_t C = 40, QD = H * hd, KD = KVH * hd;
  std::string cache = "!xfmr.kv_cache<layers = 1, heads = " + std::to_string(KVH) +
                      ", context = " + std::to_string(C) + ", head_dim = " +
                      std::to_string(hd) + ", " + st + ">";
  std::string src = "func.func @forward(%q: " + act(QD) + ", %k: " + act(KD) +
                    ", %v: " + act(KD) + ", %c: " + cache + ", %pos: index) -> " +
                    act(QD) + " {\n %y = xfmr.attention(%q, %k, %v), %c at %pos " +
                    "{layer = 0 : i64, num_heads = " + std::to_string(H) +
                    " : i64} : (" + act(QD) + ", " + act(KD) + ", " + act(KD) +
                    "), " + cache + " -> " + act(QD) + "\n return %y : " + act(QD) +
                    "\n}";
  Kernel k(src);
  ASSERT_TRUE(k.jit);
  const int64_t total = pos + M;
  auto q = randomVec(size_t(total * QD)), kk = randomVec(size_t(total * KD)),
       v = randomVec(size_t(total * KD));
  int64_t vectors = KVH * C;
  size_t halfBytes = st == "f32" ? size_t(vectors * hd * 4)
                     : st == "f16" ? size_t(vectors * hd * 2)
                                   : size_t(vectors * hd + vectors * 4);
  std::vector<uint8_t> kc(halfBytes), vc(halfBytes);
  std::vector<float> y(size_t(kMaxTokens * QD), NAN);
  // Rows [0, pos) in calls of at most kMaxTokens, then [pos, total).
  auto rows = [&](const std::vector<float> &a, int64_t w, int64_t from, int64_t to) {
    std::vector<float> r(size_t(kMaxTokens * w));
    std::copy(a.begin() + from * w, a.begin() + to * w, r.begin());
    return r;
  };
  for (int64_t from = 0; from < pos; from += kMaxTokens) {
    int64_t to = std::min(pos, from + kMaxTokens);
    auto q1 = rows(q, QD, from, to), k1 = rows(kk, KD, from, to), v1 = rows(v, KD, from, to);
    k.run({q1.data(), k1.data(), v1.data(), kc.data(), vc.data(), y.data()}, to - from, from);
  }
  auto q2 = rows(q, QD, pos, total), k2 = rows(kk, KD, pos, total), v2 = rows(v, KD, pos, total);
  k.run({q2.data(), k2.data(), v2.data(), kc.data(), vc.data(), y.data()}, M, pos);

  // What the cache holds, per head vector.
  auto stored = [&](std::vector<float> x) {
    for (int64_t t = 0; t < total; ++t)
      for (int64_t g = 0; g < KVH; ++g) {
        float *h = x.data() + t * KD + g * hd;
        if (st == "f16") {
          for (int64_t d = 0; d < hd; ++d)
            h[d] = ::xfmr::io::halfToFloat(::xfmr::io::floatToHalf(h[d]));
        } else {
          ::xfmr::io::roundInt8(h, hd);
        }
      }
    return x;
  };
  auto ks = stored(kk), vs = stored(v);
  std::vector<double> ref(size_t(M * QD), 0.0);
  for (int64_t h = 0; h < H; ++h) {
    int64_t g = h / (H / KVH);
    for (int64_t t = 0; t < M; ++t) {
      int64_t L = pos + t + 1;
      std::vector<double> sc(static_cast<size_t>(L));
      double mx = -1e300, z = 0;
      for (int64_t j = 0; j < L; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d)
          dot += double(q[size_t((pos + t) * QD + h * hd + d)]) * ks[size_t(j * KD + g * hd + d)];
        sc[size_t(j)] = dot / std::sqrt(double(hd));
        mx = std::max(mx, sc[size_t(j)]);
      }
      for (double &x : sc)
        z += (x = std::exp(x - mx));
      for (int64_t j = 0; j < L; ++j)
        for (int64_t d = 0; d < hd; ++d)
          ref[size_t(t * QD + h * hd + d)] +=
              sc[size_t(j)] / z * vs[size_t(j * KD + g * hd + d)];
    }
  }
  EXPECT_LT(relErr(y, ref, ref.size()), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Caches, CacheAttentionKernel,
    ::testing::Values(AttentionShape{4, 4, 16, 3, 0, "f16"},
                      AttentionShape{4, 2, 16, 1, 7, "f16"},
                      AttentionShape{4, 4, 16, 3, 0, "i8"},
                      AttentionShape{4, 2, 16, 1, 7, "i8"},
                      AttentionShape{6, 1, 8, 4, 9, "i8"},
                      // past one block of 16 positions
                      AttentionShape{4, 2, 16, 3, 30, "i8"},
                      AttentionShape{4, 2, 16, 1, 16, "f16"}));

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernel,
    ::testing::Values(AttentionShape{4, 4, 16, 1, 0},   // first token
                      AttentionShape{4, 4, 16, 5, 0},   // prefill
                      AttentionShape{4, 4, 16, 1, 9},   // decode
                      AttentionShape{4, 2, 8, 3, 6},    // grouped-query
                      AttentionShape{6, 1, 8, 4, 13},   // multi-query
                      AttentionShape{2, 2, 12, 2, 3},   // head_dim not 16
                      AttentionShape{4, 4, 16, 1, 31},  // exactly two blocks of 16
                      AttentionShape{4, 2, 16, 9, 20},  // rows across a block edge
                      AttentionShape{6, 1, 8, 16, 15},  // 16 rows, lengths 16..31
                      // TinyLlama's group of 8 query heads per kv head, head_dim 64
                      AttentionShape{16, 2, 64, 3, 30},
                      AttentionShape{8, 1, 64, 1, 38},
                      // groups of 3: an odd number of queries in the last row
                      AttentionShape{6, 2, 16, 3, 5},
                      // head_dim 128 (Llama 3): one query per register chunk
                      AttentionShape{8, 2, 128, 3, 20}));
} // namespace

// Generated kernels vs plain loops, one thread, at the shapes of GPT-2 124M
// (768 wide) and 355M (1024 wide). Weights rotate through copies totalling
// ~256 MB so that a decode benchmark reads them from memory, as decode does.
//
//   build/bench/kernel_bench --benchmark_filter=Linear
//
// Decode rows report bytes/s (weights read); prefill rows FLOP/s.
#include "xfmr/Lowering/KernelJit.h"

#include <benchmark/benchmark.h>

#include <random>

using namespace mlir::xfmr;

namespace {
constexpr int64_t kMaxTokens = 128;

std::string act(int64_t d) { return "tensor<?x" + std::to_string(d) + "xf32>"; }

std::unique_ptr<JitKernel> linearKernel(int64_t K, int64_t N) {
  std::string w = "tensor<" + std::to_string(K) + "x" + std::to_string(N) + "xf32>";
  std::string b = "tensor<" + std::to_string(N) + "xf32>";
  std::string src = "func.func @forward(%x: " + act(K) + ", %w: " + w + ", %b: " +
                    b + ") -> " + act(N) + " {\n %y = xfmr.linear %x, %w, %b : " +
                    act(K) + ", " + w + ", " + b + " -> " + act(N) +
                    "\n return %y : " + act(N) + "\n}";
  CPUPipelineOptions o;
  o.maxTokens = kMaxTokens;
  std::string err;
  auto k = JitKernel::compile(src, o, &err);
  if (!k)
    std::fprintf(stderr, "compile failed: %s\n", err.c_str());
  return k;
}

/// Copies of a weight matrix, rotated so each call reads cold memory.
struct Rotating {
  std::vector<std::vector<float>> copies;
  size_t next = 0;
  explicit Rotating(size_t elems) {
    size_t n = std::max<size_t>(2, (256u << 20) / (elems * 4));
    std::mt19937 rng(1);
    std::normal_distribution<float> d(0.f, 0.02f);
    copies.assign(n, std::vector<float>(elems));
    for (auto &c : copies)
      for (float &v : c)
        v = d(rng);
  }
  float *get() { return copies[next++ % copies.size()].data(); }
};

void baselineLinear(const float *x, const float *w, const float *b, float *y,
                    int64_t M, int64_t K, int64_t N) {
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n)
      y[m * N + n] = b[n];
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n)
        y[m * N + n] += x[m * K + k] * w[k * N + n];
  }
}

void BM_Linear(benchmark::State &state, bool generated) {
  int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::unique_ptr<JitKernel> k = generated ? linearKernel(K, N) : nullptr;
  if (generated && !k) {
    state.SkipWithError("compile failed");
    return;
  }
  Rotating w(size_t(K * N));
  std::vector<float> x(size_t(kMaxTokens * K), 0.5f), b(size_t(N), 0.1f),
      y(size_t(kMaxTokens * N));
  for (auto _ : state) {
    float *wp = w.get();
    if (generated)
      k->run({x.data(), wp, b.data(), y.data()}, M, 0);
    else
      baselineLinear(x.data(), wp, b.data(), y.data(), M, K, N);
    benchmark::DoNotOptimize(y.data());
  }
  if (M == 1)
    state.SetBytesProcessed(int64_t(state.iterations()) * K * N * 4);
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * 2.0 * double(M * K * N) / 1e9,
      benchmark::Counter::kIsRate);
}

void shapes(benchmark::internal::Benchmark *b) {
  b->ArgNames({"M", "K", "N"});
  for (int64_t M : {1, 128})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 768}, {768, 3072},
                        {3072, 768}, {1024, 1024}, {1024, 4096}, {4096, 1024}})
      b->Args({M, K, N});
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(BM_Linear, xfmr, true)->Apply(shapes);
BENCHMARK_CAPTURE(BM_Linear, plain_loop, false)->Apply(shapes);
} // namespace

BENCHMARK_MAIN();

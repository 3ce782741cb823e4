// Generated kernels vs plain loops, one thread, at the shapes of GPT-2 124M
// (768 wide) and 355M (1024 wide). Weights rotate through copies totalling
// ~256 MB so that a decode benchmark reads them from memory, as decode does.
//
//   build/bench/kernel_bench --benchmark_filter=Linear
//
// Decode rows report bytes/s (weights read); prefill rows FLOP/s.
#include "bench_util.h"

#include <benchmark/benchmark.h>

#include <random>

using namespace mlir::xfmr;
using xfmr::bench::act;
using xfmr::bench::kMaxTokens;

namespace {

/// Weight element types and encodings, by benchmark argument, and how they
/// multiply: widened to f32, VNNI dot products, or (int8 prefill) AMX.
const char *kTypes[] = {"f32",
                        "bf16",
                        "i8, #xfmr.quant<bits = 8, group = 0, scale = f16>",
                        "i4, #xfmr.quant<bits = 4, group = 32, scale = f16>",
                        "i8, #xfmr.quant<bits = 8, group = 0, scale = f16>",
                        "i4, #xfmr.quant<bits = 4, group = 32, scale = f16>",
                        "i8, #xfmr.quant<bits = 8, group = 0, scale = f16>"};
const char *kTypeNames[] = {"f32",       "bf16",      "int8",    "int4",
                            "int8_vnni", "int4_vnni", "int8_amx"};
constexpr int kNumTypes = 7;
bool usesVNNI(int type) { return type >= 4; }
bool usesAMX(int type) { return type == 6; }

/// `schedule`, when given, pins the linear's #xfmr.schedule (tile_m, tile_n).
std::unique_ptr<JitKernel> linearKernel(int64_t K, int64_t N, int type = 0,
                                        const std::string &schedule = "") {
  std::string w = "tensor<" + std::to_string(K) + "x" + std::to_string(N) + "x" +
                  kTypes[type] + ">";
  std::string b = "tensor<" + std::to_string(N) + "xf32>";
  std::string src = "func.func @forward(%x: " + act(K) + ", %w: " + w + ", %b: " +
                    b + ") -> " + act(N) + " {\n %y = xfmr.linear %x, %w, %b " +
                    (schedule.empty() ? "" : "{schedule = " + schedule + "} ") + ": " +
                    act(K) + ", " + w + ", " + b + " -> " + act(N) +
                    "\n return %y : " + act(N) + "\n}";
  CPUPipelineOptions o;
  o.maxTokens = kMaxTokens;
  o.vnni = usesVNNI(type);
  o.amx = usesAMX(type);
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

/// The same for a packed weight (its layout's bytes).
struct RotatingBytes {
  std::vector<std::vector<uint8_t>> copies;
  size_t next = 0;
  RotatingBytes(const std::vector<uint8_t> &packed) {
    size_t n = std::max<size_t>(2, (256u << 20) / packed.size());
    copies.assign(n, packed);
  }
  uint8_t *get() { return copies[next++ % copies.size()].data(); }
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
  int type = generated ? int(state.range(3)) : 0;
  std::unique_ptr<JitKernel> k = generated ? linearKernel(K, N, type) : nullptr;
  if (generated && !k) {
    state.SkipWithError("compile failed");
    return;
  }
  state.SetLabel(kTypeNames[type]);
  Rotating w(generated ? 1 : size_t(K * N));
  std::vector<float> logical(size_t(K * N), 0.01f);
  std::unique_ptr<RotatingBytes> packed;
  if (generated)
    packed = std::make_unique<RotatingBytes>(packWeight(logical, k->layout(1)));
  std::vector<float> x(size_t(kMaxTokens * K), 0.5f), b(size_t(N), 0.1f),
      y(size_t(kMaxTokens * N));
  for (auto _ : state) {
    if (generated)
      k->run({x.data(), packed->get(), b.data(), y.data()}, M, 0);
    else
      baselineLinear(x.data(), w.get(), b.data(), y.data(), M, K, N);
    benchmark::DoNotOptimize(y.data());
  }
  int64_t bytes = generated ? int64_t(packed->copies[0].size()) : K * N * 4;
  if (M == 1)
    state.SetBytesProcessed(int64_t(state.iterations()) * bytes);
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * 2.0 * double(M * K * N) / 1e9,
      benchmark::Counter::kIsRate);
}

void shapes(benchmark::internal::Benchmark *b, bool withTypes) {
  b->ArgNames({"M", "K", "N", "type"});
  for (int64_t type = 0; type < (withTypes ? kNumTypes : 1); ++type)
    for (int64_t M : {1, 128})
      for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 768}, {768, 3072},
                          {3072, 768}, {1024, 1024}, {1024, 4096}, {4096, 1024}})
        b->Args({M, K, N, type});
  b->Unit(benchmark::kMicrosecond);
}

/// Prefill linear (128 rows) at a pinned schedule: the space the tuner
/// searches, swept exhaustively here (type 0 f32, 4 int8 VNNI).
void BM_LinearSchedule(benchmark::State &state) {
  int64_t K = state.range(0), N = state.range(1), type = state.range(2);
  int64_t tm = state.range(3), tn = state.range(4), unroll = state.range(5);
  std::string sched = "#xfmr.schedule<vector_width = 16, tile_m = " +
                      std::to_string(tm) + ", tile_n = " + std::to_string(tn) +
                      ", unroll = " + std::to_string(unroll) + (usesVNNI(int(type)) ? ", dot" : "") + ">";
  std::unique_ptr<JitKernel> k = linearKernel(K, N, int(type), sched);
  if (!k) {
    state.SkipWithError("compile failed");
    return;
  }
  state.SetLabel(kTypeNames[type]);
  std::vector<float> logical(size_t(K * N), 0.01f);
  std::vector<uint8_t> packed = packWeight(logical, k->layout(1));
  std::vector<float> x(size_t(kMaxTokens * K), 0.5f), b(size_t(N), 0.1f),
      y(size_t(kMaxTokens * N));
  for (auto _ : state) {
    k->run({x.data(), packed.data(), b.data(), y.data()}, kMaxTokens, 0);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * 2.0 * double(kMaxTokens * K * N) / 1e9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LinearSchedule)
    ->ArgNames({"K", "N", "type", "tm", "tn", "unroll"})
    ->ArgsProduct({{768}, {3072}, {0, 4}, {1, 2, 4, 6, 8}, {16, 32, 48, 64, 96, 128}, {1}})
    ->ArgsProduct({{3072}, {768}, {0, 4}, {1, 2, 4, 6, 8}, {16, 32, 48, 64, 96, 128}, {1}})
    ->Unit(benchmark::kMicrosecond);

void BM_LMHead(benchmark::State &state) {
  int64_t D = state.range(0), V = state.range(1);
  int type = int(state.range(2));
  std::string e = "tensor<" + std::to_string(V) + "x" + std::to_string(D) + "x" +
                  kTypes[type] + ">";
  std::string src = "func.func @forward(%x: " + act(D) + ", %e: " + e + ") -> " +
                    act(V) + " {\n %y = xfmr.lm_head %x, %e : " + act(D) + ", " +
                    e + " -> " + act(V) + "\n return %y : " + act(V) + "\n}";
  CPUPipelineOptions o;
  o.maxTokens = kMaxTokens;
  o.vnni = usesVNNI(type);
  std::string err;
  auto k = JitKernel::compile(src, o, &err);
  if (!k) {
    state.SkipWithError(err.c_str());
    return;
  }
  state.SetLabel(kTypeNames[type]);
  std::vector<float> logical(size_t(V * D), 0.01f);
  std::vector<uint8_t> packed = packWeight(logical, k->layout(1));
  std::vector<float> x(size_t(kMaxTokens * D), 0.5f), y(size_t(kMaxTokens * V));
  for (auto _ : state) {
    k->run({x.data(), packed.data(), y.data()}, 1, 0);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(packed.size()));
}
BENCHMARK(BM_LMHead)
    ->ArgNames({"D", "V", "type"})
    ->Args({768, 50257, 0})
    ->Args({768, 50257, 1})
    ->Args({768, 50257, 2})
    ->Args({768, 50257, 3})
    ->Args({768, 50257, 4})
    ->Args({768, 50257, 5})
    ->Args({1024, 50257, 4})
    ->Args({1024, 50257, 5})
    ->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_Linear, xfmr, true)->Apply([](auto *b) { shapes(b, true); });
BENCHMARK_CAPTURE(BM_Linear, plain_loop, false)->Apply([](auto *b) { shapes(b, false); });
} // namespace

BENCHMARK_MAIN();

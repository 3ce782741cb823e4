// The other kernel families against plain loops, one thread, at the shapes
// of GPT-2 124M (768 wide, 12 heads) and 355M (1024 wide, 16 heads):
// attention over the KV cache (decode at several context lengths, and a
// 128-token prefill), layer norm, GELU, residual add, embedding.
//
//   build/bench/kernel_bench --benchmark_filter='Attention|Norm|Gelu|Add|Embedding'
//
// Attention reports FLOP/s (4 x heads x head_dim per cached position and
// query row); the row kernels report bytes/s (read + written).
#include "bench_util.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

using namespace xfmr::bench;

namespace {
/// One query row against positions [0, len) of one head: the textbook
/// softmax(q K^T / sqrt(d)) V, as a plain baseline.
void plainAttention(const float *q, const float *kc, const float *vc, float *out,
                    int64_t heads, int64_t hd, int64_t ctx, int64_t len) {
  std::vector<float> s(static_cast<size_t>(len));
  for (int64_t h = 0; h < heads; ++h) {
    const float *K = kc + h * ctx * hd, *V = vc + h * ctx * hd;
    float mx = -1e30f, z = 0;
    for (int64_t j = 0; j < len; ++j) {
      float d = 0;
      for (int64_t i = 0; i < hd; ++i)
        d += q[h * hd + i] * K[j * hd + i];
      s[size_t(j)] = d / std::sqrt(float(hd));
      mx = std::max(mx, s[size_t(j)]);
    }
    for (float &x : s)
      z += (x = std::exp(x - mx));
    for (int64_t i = 0; i < hd; ++i) {
      float a = 0;
      for (int64_t j = 0; j < len; ++j)
        a += s[size_t(j)] * V[j * hd + i];
      out[h * hd + i] = a / z;
    }
  }
}

// Args: width, heads, rows (new tokens), position of the first new token.
void BM_Attention(benchmark::State &state, bool generated) {
  const int64_t E = state.range(0), H = state.range(1), n = state.range(2),
                pos = state.range(3), hd = E / H, ctx = 1024;
  std::string cache = "!xfmr.kv_cache<layers = 1, heads = " + std::to_string(H) +
                      ", context = " + std::to_string(ctx) +
                      ", head_dim = " + std::to_string(hd) + ", f32>";
  std::string src = "func.func @forward(%q: " + act(E) + ", %k: " + act(E) +
                    ", %v: " + act(E) + ", %c: " + cache + ", %pos: index) -> " +
                    act(E) + " {\n %y = xfmr.attention(%q, %k, %v), %c at %pos " +
                    "{layer = 0 : i64, num_heads = " + std::to_string(H) +
                    " : i64} : (" + act(E) + ", " + act(E) + ", " + act(E) + "), " +
                    cache + " -> " + act(E) + "\n return %y : " + act(E) + "\n}";
  auto k = generated ? compileKernel(src) : nullptr;
  if (generated && !k) {
    state.SkipWithError("compile failed");
    return;
  }
  std::vector<float> q(size_t(kMaxTokens * E), 0.01f), kv(size_t(kMaxTokens * E), 0.02f),
      kc(size_t(H * ctx * hd), 0.03f), vc(size_t(H * ctx * hd), 0.04f),
      y(size_t(kMaxTokens * E));
  for (auto _ : state) {
    if (generated) {
      k->run({q.data(), kv.data(), kv.data(), kc.data(), vc.data(), y.data()}, n, pos);
    } else {
      for (int64_t t = 0; t < n; ++t)
        plainAttention(q.data() + t * E, kc.data(), vc.data(), y.data() + t * E, H,
                       hd, ctx, pos + t + 1);
    }
    benchmark::DoNotOptimize(y.data());
  }
  double flops = 0;
  for (int64_t t = 0; t < n; ++t)
    flops += 4.0 * double(H * hd) * double(pos + t + 1);
  state.counters["GFLOP/s"] = benchmark::Counter(
      double(state.iterations()) * flops / 1e9, benchmark::Counter::kIsRate);
}

void attentionShapes(benchmark::internal::Benchmark *b) {
  b->ArgNames({"E", "H", "n", "pos"});
  for (auto [E, H] : {std::pair<int64_t, int64_t>{768, 12}, {1024, 16}}) {
    for (int64_t pos : {127, 511, 1023}) // decode at contexts 128, 512, 1024
      b->Args({E, H, 1, pos});
    b->Args({E, H, 128, 0}); // prefill of 128 tokens
  }
  b->Unit(benchmark::kMicrosecond);
}

/// A row op on `rows` rows of width E: norm, gelu, add.
enum class RowOp { LayerNorm, Gelu, Add };

std::string rowSource(RowOp op, int64_t E) {
  std::string a = act(E), v = "tensor<" + std::to_string(E) + "xf32>";
  switch (op) {
  case RowOp::LayerNorm:
    return "func.func @forward(%x: " + a + ", %g: " + v + ", %b: " + v + ") -> " + a +
           " {\n %y = xfmr.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f64} : " + a +
           ", " + v + ", " + v + " -> " + a + "\n return %y : " + a + "\n}";
  case RowOp::Gelu:
    return "func.func @forward(%x: " + a + ") -> " + a + " {\n %y = xfmr.gelu %x : " +
           a + "\n return %y : " + a + "\n}";
  case RowOp::Add:
    return "func.func @forward(%x: " + a + ", %r: " + a + ") -> " + a +
           " {\n %y = xfmr.add %x, %r : " + a + "\n return %y : " + a + "\n}";
  }
  return "";
}

void plainRow(RowOp op, const float *x, const float *r, const float *g,
              const float *b, float *y, int64_t rows, int64_t E) {
  for (int64_t t = 0; t < rows; ++t) {
    const float *xr = x + t * E;
    float *yr = y + t * E;
    if (op == RowOp::LayerNorm) {
      float mean = 0, var = 0;
      for (int64_t i = 0; i < E; ++i)
        mean += xr[i];
      mean /= float(E);
      for (int64_t i = 0; i < E; ++i)
        var += (xr[i] - mean) * (xr[i] - mean);
      float rstd = 1.f / std::sqrt(var / float(E) + 1e-5f);
      for (int64_t i = 0; i < E; ++i)
        yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
    } else if (op == RowOp::Gelu) {
      for (int64_t i = 0; i < E; ++i) {
        float v = xr[i];
        yr[i] = 0.5f * v * (1 + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
      }
    } else {
      for (int64_t i = 0; i < E; ++i)
        yr[i] = xr[i] + r[t * E + i];
    }
  }
}

// Args: width, rows.
void BM_Row(benchmark::State &state, RowOp op, bool generated) {
  const int64_t E = state.range(0), rows = state.range(1);
  auto k = generated ? compileKernel(rowSource(op, E)) : nullptr;
  if (generated && !k) {
    state.SkipWithError("compile failed");
    return;
  }
  std::vector<float> x(size_t(kMaxTokens * E), 0.3f), r(size_t(kMaxTokens * E), 0.2f),
      g(size_t(E), 1.f), b(size_t(E), 0.f), y(size_t(kMaxTokens * E));
  for (auto _ : state) {
    if (!generated)
      plainRow(op, x.data(), r.data(), g.data(), b.data(), y.data(), rows, E);
    else if (op == RowOp::LayerNorm)
      k->run({x.data(), g.data(), b.data(), y.data()}, rows, 0);
    else if (op == RowOp::Gelu)
      k->run({x.data(), y.data()}, rows, 0);
    else
      k->run({x.data(), r.data(), y.data()}, rows, 0);
    benchmark::DoNotOptimize(y.data());
  }
  int64_t streams = op == RowOp::Add ? 3 : 2;
  state.SetBytesProcessed(int64_t(state.iterations()) * streams * rows * E * 4);
}

void rowShapes(benchmark::internal::Benchmark *b) {
  b->ArgNames({"E", "rows"});
  for (int64_t E : {768, 1024})
    for (int64_t rows : {1, 128})
      b->Args({E, rows});
  b->Unit(benchmark::kMicrosecond);
}

// Args: width, rows. f32 table of 50257 rows plus learned positions.
void BM_Embedding(benchmark::State &state, bool generated) {
  const int64_t E = state.range(0), rows = state.range(1), V = 50257, C = 1024;
  std::string t = "tensor<" + std::to_string(V) + "x" + std::to_string(E) + "xf32>",
              p = "tensor<" + std::to_string(C) + "x" + std::to_string(E) + "xf32>";
  std::string src = "func.func @forward(%ids: tensor<?xi32>, %t: " + t + ", %p: " + p +
                    ", %pos: index) -> " + act(E) +
                    " {\n %y = xfmr.embedding %ids, %t, %p at %pos : tensor<?xi32>, " +
                    t + ", " + p + " -> " + act(E) + "\n return %y : " + act(E) + "\n}";
  auto k = generated ? compileKernel(src) : nullptr;
  if (generated && !k) {
    state.SkipWithError("compile failed");
    return;
  }
  std::vector<int32_t> ids(static_cast<size_t>(kMaxTokens));
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = int32_t((i * 7919) % size_t(V));
  std::vector<float> table(size_t(V * E), 0.1f), pe(size_t(C * E), 0.2f),
      y(size_t(kMaxTokens * E));
  for (auto _ : state) {
    if (generated) {
      k->run({ids.data(), table.data(), pe.data(), y.data()}, rows, 0);
    } else {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < E; ++i)
          y[size_t(r * E + i)] = table[size_t(ids[size_t(r)] * E + i)] + pe[size_t(r * E + i)];
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 3 * rows * E * 4);
}

BENCHMARK_CAPTURE(BM_Attention, xfmr, true)->Apply(attentionShapes);
BENCHMARK_CAPTURE(BM_Attention, plain_loop, false)->Apply(attentionShapes);
BENCHMARK_CAPTURE(BM_Row, layer_norm_xfmr, RowOp::LayerNorm, true)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Row, layer_norm_plain_loop, RowOp::LayerNorm, false)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Row, gelu_xfmr, RowOp::Gelu, true)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Row, gelu_plain_loop, RowOp::Gelu, false)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Row, add_xfmr, RowOp::Add, true)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Row, add_plain_loop, RowOp::Add, false)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Embedding, xfmr, true)->Apply(rowShapes);
BENCHMARK_CAPTURE(BM_Embedding, plain_loop, false)->Apply(rowShapes);
} // namespace

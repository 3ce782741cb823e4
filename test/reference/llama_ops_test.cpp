// The ops the Llama family adds, and the weight types, on hand-written
// modules, each against values computed here with plain loops from the op's
// documented formula (not with the interpreter's code).
#include "interpreter_support.h"
#include "llama_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace xfmr;
using namespace xfmr::test;
using reference::Logits;

namespace {

using Rows = std::vector<std::vector<double>>;

const char *kCache1 = "!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 8, "
                      "head_dim = 2, f32>\n";

/// Row `token` of a stored [rows, cols] tensor, as doubles.
std::vector<double> rowOf(const reference::StoredTensor &t, int64_t token) {
  int64_t cols = t.shape.back();
  return {t.data.begin() + token * cols, t.data.begin() + (token + 1) * cols};
}

/// Interprets `text` on `weights`, feeding `chunks` one call each; the rows
/// of all calls.
Rows run(const std::string &text, const TensorMap &weights,
         const std::vector<std::vector<int32_t>> &chunks,
         const reference::InterpreterOptions &options = {}) {
  mlir::MLIRContext ctx;
  std::string err;
  auto module = parseModule(ctx, text, &err);
  EXPECT_TRUE(module) << err;
  if (!module)
    return {};
  reference::Interpreter interp(*module, mapLoader(weights), options);
  EXPECT_TRUE(interp.ok()) << interp.error();
  Rows all;
  for (const auto &c : chunks) {
    Logits l = interp.forward(c);
    EXPECT_EQ(l.size(), c.size()) << interp.error();
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

void expectNear(const Rows &got, const Rows &want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t t = 0; t < want.size(); ++t) {
    ASSERT_EQ(got[t].size(), want[t].size()) << "row " << t;
    for (size_t i = 0; i < want[t].size(); ++i)
      EXPECT_NEAR(got[t][i], want[t][i], tol) << "row " << t << ", element " << i;
  }
}

// ---- rotary -----------------------------------------------------------------

// Two heads of head_dim 4, theta 100: element i of a head pairs with i + 2
// and turns by angle p * 100^(-2i/4), i.e. p (i = 0) and p / 10 (i = 1).
TEST(Rotary, RotateHalfByTheFormula) {
  std::string text = std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x8xf32> {
  %t = xfmr.weight "table" : tensor<5x8xf32>
  %x = xfmr.embedding %tokens, %t at %pos : tensor<?xi32>, tensor<5x8xf32> -> tensor<?x8xf32>
  %r = xfmr.rotary %x at %pos {head_dim = 4 : i64, theta = 100.0 : f64} : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
})";
  std::mt19937 rng(1);
  TensorMap w{{"table", randomTensor({5, 8}, rng)}};
  std::vector<int32_t> seq{3, 1, 4, 0, 2};
  Rows want;
  for (int64_t p = 0; p < 5; ++p) {
    std::vector<double> x = rowOf(w["table"], seq[size_t(p)]), y(8);
    const double freq[2] = {1.0, 0.1};
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 2; ++i) {
        double a = double(p) * freq[i], x1 = x[size_t(4 * h + i)], x2 = x[size_t(4 * h + i + 2)];
        y[size_t(4 * h + i)] = x1 * std::cos(a) - x2 * std::sin(a);
        y[size_t(4 * h + i + 2)] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    want.push_back(y);
  }
  // A prompt of two, one decode step, then two more in one call: the angle
  // follows the absolute position.
  expectNear(run(text, w, {{3, 1}, {4}, {0, 2}}), want, 1e-12);
}

// Rope scaling (#xfmr.rope_scaling) by Hugging Face's formulas: linear
// divides every frequency by the factor; llama3 keeps wavelengths shorter
// than original_context / high_freq_factor, divides those longer than
// original_context / low_freq_factor, and blends in between. theta 100 and
// head_dim 8 give wavelengths 6.3, 19.9, 62.8, 199: one of each band.
struct ScalingCase {
  const char *name;
  std::string kind;
  double factor;
};

void PrintTo(const ScalingCase &c, std::ostream *os) { *os << c.name; }

class RopeScaling : public ::testing::TestWithParam<ScalingCase> {};

TEST_P(RopeScaling, FrequenciesByHuggingFaceFormulas) {
  const ScalingCase &c = GetParam();
  std::string text = std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %t = xfmr.weight "table" : tensor<5x16xf32>
  %x = xfmr.embedding %tokens, %t at %pos : tensor<?xi32>, tensor<5x16xf32> -> tensor<?x16xf32>
  %r = xfmr.rotary %x at %pos {head_dim = 8 : i64, theta = 100.0 : f64} : tensor<?x16xf32>
  return %r : tensor<?x16xf32>
})";
  const double low = 1, high = 4, orig = 32;
  std::vector<double> inv;
  for (int i = 0; i < 4; ++i) {
    double f = std::pow(100.0, -2.0 * i / 8), wavelen = 2 * M_PI / f;
    if (c.kind == "linear")
      f /= c.factor;
    else if (wavelen > orig / low)
      f /= c.factor;
    else if (wavelen >= orig / high) {
      double smooth = (orig / wavelen - low) / (high - low);
      f = (1 - smooth) * f / c.factor + smooth * f;
    }
    inv.push_back(f);
  }
  mlir::MLIRContext ctx;
  std::string err;
  auto module = parseModule(ctx, text, &err);
  ASSERT_TRUE(module) << err;
  auto attr = mlir::xfmr::RopeScalingAttr::get(&ctx, c.kind, llvm::APFloat(c.factor),
                                               llvm::APFloat(low), llvm::APFloat(high),
                                               int64_t(orig));
  module->walk([&](mlir::xfmr::RotaryOp op) { op.setScalingAttr(attr); });
  std::mt19937 rng(9);
  TensorMap w{{"table", randomTensor({5, 16}, rng)}};
  std::vector<int32_t> seq{4, 2, 0, 3};
  Rows want;
  for (size_t p = 0; p < seq.size(); ++p) {
    std::vector<double> x = rowOf(w["table"], seq[p]), y(16);
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 4; ++i) {
        double a = double(p) * inv[size_t(i)], x1 = x[size_t(8 * h + i)],
               x2 = x[size_t(8 * h + i + 4)];
        y[size_t(8 * h + i)] = x1 * std::cos(a) - x2 * std::sin(a);
        y[size_t(8 * h + i + 4)] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    want.push_back(y);
  }
  reference::Interpreter interp(*module, mapLoader(w));
  ASSERT_TRUE(interp.ok()) << interp.error();
  Rows got = interp.forward({4, 2});
  for (auto &row : interp.forward({0, 3}))
    got.push_back(row);
  expectNear(got, want, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Llama, RopeScaling,
                         ::testing::Values(ScalingCase{"linear", "linear", 4},
                                           ScalingCase{"llama3", "llama3", 8}),
                         [](const auto &info) { return std::string(info.param.name); });

// ---- rms_norm, transposed weight views, untied LM head ----------------------

TEST(RMSNormLinearHead, TransposedViewAndUntiedHead) {
  std::string text = std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x5xf32> {
  %e = xfmr.weight "emb" : tensor<6x4xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<6x4xf32> -> tensor<?x4xf32>
  %g = xfmr.weight "norm" : tensor<4xf32>
  %n = xfmr.rms_norm %x, %g {epsilon = 1.0e-05 : f64} : tensor<?x4xf32>, tensor<4xf32> -> tensor<?x4xf32>
  %w = xfmr.weight "proj" transposed : tensor<4x3xf32>
  %b = xfmr.weight "bias" : tensor<3xf32>
  %y = xfmr.linear %n, %w, %b : tensor<?x4xf32>, tensor<4x3xf32>, tensor<3xf32> -> tensor<?x3xf32>
  %h = xfmr.weight "head" : tensor<5x3xf32>
  %l = xfmr.lm_head %y, %h : tensor<?x3xf32>, tensor<5x3xf32> -> tensor<?x5xf32>
  return %l : tensor<?x5xf32>
})";
  std::mt19937 rng(2);
  TensorMap w{{"emb", randomTensor({6, 4}, rng)},
              {"norm", randomTensor({4}, rng)},
              {"proj", randomTensor({3, 4}, rng)}, // [out, in], as nn.Linear
              {"bias", randomTensor({3}, rng)},
              {"head", randomTensor({5, 3}, rng)}};
  std::vector<int32_t> seq{5, 0, 2};
  Rows want;
  for (int32_t tok : seq) {
    std::vector<double> x = rowOf(w["emb"], tok);
    double ms = 0;
    for (double v : x)
      ms += v * v / 4;
    std::vector<double> y(3), logits(5);
    for (int j = 0; j < 3; ++j) {
      y[size_t(j)] = w["bias"].data[size_t(j)];
      for (int i = 0; i < 4; ++i)
        y[size_t(j)] += x[size_t(i)] / std::sqrt(ms + 1e-5) * w["norm"].data[size_t(i)] *
                        w["proj"].data[size_t(j * 4 + i)];
    }
    for (int v = 0; v < 5; ++v)
      for (int j = 0; j < 3; ++j)
        logits[size_t(v)] += y[size_t(j)] * w["head"].data[size_t(v * 3 + j)];
    want.push_back(logits);
  }
  expectNear(run(text, w, {seq}), want, 1e-12);
}

// ---- transposed column views: stored rows of a fused [out, in] matrix --------

/// A linear over `columns from 16 transposed` of a stored [48, 32] "qkv"
/// (GPT-2's c_attn as GGUF stores it), typed `weightType`.
std::string stackedModule(const std::string &weightType) {
  return std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %e = xfmr.weight "emb" : tensor<6x32xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<6x32xf32> -> tensor<?x32xf32>
  %w = xfmr.weight "qkv" columns from 16 transposed : )" + weightType + R"(
  %y = xfmr.linear %x, %w : tensor<?x32xf32>, )" + weightType + R"( -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
})";
}

/// y_j = sum_i x_i qkv[16 + j][i]: the view's column j is stored row 16 + j.
Rows stackedWant(TensorMap &w, const std::vector<int32_t> &seq) {
  Rows want;
  for (int32_t tok : seq) {
    std::vector<double> x = rowOf(w["emb"], tok), y(16);
    for (int j = 0; j < 16; ++j)
      for (int i = 0; i < 32; ++i)
        y[size_t(j)] += x[size_t(i)] * w["qkv"].data[size_t((16 + j) * 32 + i)];
    want.push_back(y);
  }
  return want;
}

TEST(TransposedColumns, AreTheStoredRows) {
  std::mt19937 rng(5);
  TensorMap w{{"emb", randomTensor({6, 32}, rng)}, {"qkv", randomTensor({48, 32}, rng)}};
  std::vector<int32_t> seq{1, 4, 0};
  expectNear(run(stackedModule("tensor<32x16xf32>"), w, {seq}), stackedWant(w, seq), 1e-12);
}

// A file's blocks along the stored rows (GGUF's Q8_0) stay whole in such a
// view: the weight reads the stored values as they are. The same values
// not stored in that scheme are rounded to it, which changes them: the
// first check could not pass by chance.
TEST(TransposedColumns, ReadStoredBlocksAsTheyAre) {
  std::mt19937 rng(6);
  TensorMap w{{"emb", randomTensor({6, 32}, rng)}, {"qkv", randomTensor({48, 32}, rng)}};
  const std::string q8 = "tensor<32x16xi8, #xfmr.quant<bits = 8, group = 32, scale = f16>>";
  std::vector<int32_t> seq{2, 5};
  Rows want = stackedWant(w, seq);
  TensorMap stored = w;
  stored["qkv"].storedAs = io::QuantScheme{io::WeightFormat::Int8, 32, true, false};
  expectNear(run(stackedModule(q8), stored, {seq}), want, 1e-12);
  Rows rounded = run(stackedModule(q8), w, {seq});
  ASSERT_EQ(rounded.size(), want.size());
  double diff = 0;
  for (size_t t = 0; t < want.size(); ++t)
    for (size_t i = 0; i < want[t].size(); ++i)
      diff = std::max(diff, std::fabs(rounded[t][i] - want[t][i]));
  EXPECT_GT(diff, 1e-6);
}

// ---- grouped-query attention and the KV cache --------------------------------

/// Four query heads over two kv heads of head_dim 4: q, k and v come from
/// their own embedding tables, so every row is arbitrary.
std::string gqaModule(const std::string &storage, const std::string &scaleAttr) {
  return "!cache = !xfmr.kv_cache<layers = 1, heads = 2, context = 8, head_dim = 4, " +
         storage + ">\n" + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x16xf32> {
  %tq = xfmr.weight "tq" : tensor<6x16xf32>
  %tk = xfmr.weight "tk" : tensor<6x8xf32>
  %tv = xfmr.weight "tv" : tensor<6x8xf32>
  %q = xfmr.embedding %tokens, %tq at %pos : tensor<?xi32>, tensor<6x16xf32> -> tensor<?x16xf32>
  %k = xfmr.embedding %tokens, %tk at %pos : tensor<?xi32>, tensor<6x8xf32> -> tensor<?x8xf32>
  %v = xfmr.embedding %tokens, %tv at %pos : tensor<?xi32>, tensor<6x8xf32> -> tensor<?x8xf32>
  %a = xfmr.attention(%q, %k, %v), %cache at %pos {layer = 0 : i64, num_heads = 4 : i64)" +
         scaleAttr + R"(} : (tensor<?x16xf32>, tensor<?x8xf32>, tensor<?x8xf32>), !cache -> tensor<?x16xf32>
  return %a : tensor<?x16xf32>
})";
}

/// f16 by the compiler's own conversion (round to nearest even), not io's.
double halfOf(float f) { return double(_Float16(f)); }

/// One head vector as the cache stores it: f16, or int8 codes with one scale
/// max|x| / 127 (f32 arithmetic, round half to even).
std::vector<double> stored(std::vector<double> x, const std::string &storage) {
  if (storage == "f16")
    for (double &v : x)
      v = halfOf(float(v));
  if (storage == "i8") {
    float amax = 0;
    for (double v : x)
      amax = std::max(amax, std::fabs(float(v)));
    for (double &v : x)
      v = std::nearbyint(float(v) * (127.f / amax)) * (amax / 127.f);
  }
  return x;
}

/// softmax(q_h . K_g^T * scale) V_g with g = h / 2, causal, by loops.
Rows expectedGQA(TensorMap &w, const std::vector<int32_t> &seq, double scale,
                 const std::string &storage) {
  Rows want;
  for (size_t p = 0; p < seq.size(); ++p) {
    std::vector<double> q = rowOf(w["tq"], seq[p]), out(16);
    for (int h = 0; h < 4; ++h) {
      int g = h / 2;
      std::vector<double> s(p + 1);
      std::vector<std::vector<double>> vs(p + 1);
      double mx = -INFINITY, sum = 0;
      for (size_t j = 0; j <= p; ++j) {
        std::vector<double> kr = rowOf(w["tk"], seq[j]), vr = rowOf(w["tv"], seq[j]);
        std::vector<double> k = stored({kr.begin() + 4 * g, kr.begin() + 4 * g + 4}, storage);
        vs[j] = stored({vr.begin() + 4 * g, vr.begin() + 4 * g + 4}, storage);
        for (int d = 0; d < 4; ++d)
          s[j] += q[size_t(4 * h + d)] * k[size_t(d)] * scale;
        mx = std::max(mx, s[j]);
      }
      for (double &v : s)
        sum += (v = std::exp(v - mx));
      for (size_t j = 0; j <= p; ++j)
        for (int d = 0; d < 4; ++d)
          out[size_t(4 * h + d)] += s[j] / sum * vs[j][size_t(d)];
    }
    want.push_back(out);
  }
  return want;
}

struct GQACase {
  const char *name;
  std::string storage;   // the cache's element type
  std::string scaleAttr; // "" or ", scale = ..."
  double scale;
};

void PrintTo(const GQACase &c, std::ostream *os) { *os << c.name; }

class GroupedQueryAttention : public ::testing::TestWithParam<GQACase> {};

TEST_P(GroupedQueryAttention, MatchesLoopsPrefillAndDecode) {
  const GQACase &c = GetParam();
  std::mt19937 rng(3);
  TensorMap w{{"tq", randomTensor({6, 16}, rng)},
              {"tk", randomTensor({6, 8}, rng)},
              {"tv", randomTensor({6, 8}, rng)}};
  std::vector<int32_t> seq{1, 4, 2, 5, 5, 0};
  Rows want = expectedGQA(w, seq, c.scale, c.storage);
  std::string text = gqaModule(c.storage, c.scaleAttr);
  // A 3-token prompt then decode steps; one call; one token per call.
  expectNear(run(text, w, {{1, 4, 2}, {5}, {5}, {0}}), want, 1e-12);
  expectNear(run(text, w, {seq}), want, 1e-12);
  expectNear(run(text, w, {{1}, {4}, {2}, {5}, {5}, {0}}), want, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(
    KVCache, GroupedQueryAttention,
    ::testing::Values(GQACase{"f32_default_scale", "f32", "", 0.5},
                      GQACase{"f32_scale_attr", "f32", ", scale = 0.7 : f64", 0.7},
                      GQACase{"f16", "f16", "", 0.5}, GQACase{"i8", "i8", "", 0.5}),
    [](const auto &info) { return std::string(info.param.name); });

// ---- gated MLP, SiLU/GELU, and every optional part of xfmr.linear -------------

double siluOf(double x) { return x / (1 + std::exp(-x)); }
double geluOf(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/// x (embedding of width 4), gate = x Wg, up = x Wu (both width 6), then
/// `body` computes %out from them.
std::string mlpModule(const std::string &body) {
  return std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x6xf32> {
  %e = xfmr.weight "emb" : tensor<5x4xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<5x4xf32> -> tensor<?x4xf32>
  %wg = xfmr.weight "wg" : tensor<4x6xf32>
  %wu = xfmr.weight "wu" : tensor<4x6xf32>
  %gm = xfmr.weight "gamma" : tensor<4xf32>
  %bt = xfmr.weight "beta" : tensor<4xf32>
  %bg = xfmr.weight "bg" : tensor<6xf32>
  %er = xfmr.weight "res" : tensor<5x6xf32>
  %r = xfmr.embedding %tokens, %er at %pos : tensor<?xi32>, tensor<5x6xf32> -> tensor<?x6xf32>
  %g = xfmr.linear %x, %wg : tensor<?x4xf32>, tensor<4x6xf32> -> tensor<?x6xf32>
  %u = xfmr.linear %x, %wu : tensor<?x4xf32>, tensor<4x6xf32> -> tensor<?x6xf32>
)" + body + R"(
  return %out : tensor<?x6xf32>
})";
}

struct MLPCase {
  const char *name;
  std::string body;
  /// The expected row from x (normalized by `norm`: none, "rms" or "layer"),
  /// gate g = x Wg (+ bias), up u = x Wu, residual r.
  std::function<double(double g, double u, double r)> f;
  std::string norm = "";
  bool gateBias = false;
};

void PrintTo(const MLPCase &c, std::ostream *os) { *os << c.name; }

class GatedMLP : public ::testing::TestWithParam<MLPCase> {};

TEST_P(GatedMLP, MatchesLoops) {
  const MLPCase &c = GetParam();
  std::mt19937 rng(4);
  TensorMap w{{"emb", randomTensor({5, 4}, rng)}, {"wg", randomTensor({4, 6}, rng)},
              {"wu", randomTensor({4, 6}, rng)},  {"gamma", randomTensor({4}, rng)},
              {"beta", randomTensor({4}, rng)},   {"bg", randomTensor({6}, rng)},
              {"res", randomTensor({5, 6}, rng)}};
  std::vector<int32_t> seq{2, 0, 4, 4};
  Rows want;
  for (int32_t tok : seq) {
    std::vector<double> x = rowOf(w["emb"], tok), n = x;
    double mean = 0, var = 0, ms = 0;
    for (double v : x) {
      mean += v / 4;
      ms += v * v / 4;
    }
    for (double v : x)
      var += (v - mean) * (v - mean) / 4;
    for (int i = 0; i < 4; ++i) {
      double gm = w["gamma"].data[size_t(i)], bt = w["beta"].data[size_t(i)];
      if (c.norm == "rms")
        n[size_t(i)] = x[size_t(i)] / std::sqrt(ms + 1e-6) * gm;
      if (c.norm == "layer")
        n[size_t(i)] = (x[size_t(i)] - mean) / std::sqrt(var + 1e-6) * gm + bt;
    }
    std::vector<double> out(6);
    for (int j = 0; j < 6; ++j) {
      double g = c.gateBias ? w["bg"].data[size_t(j)] : 0, u = 0;
      for (int i = 0; i < 4; ++i) {
        g += n[size_t(i)] * w["wg"].data[size_t(i * 6 + j)];
        u += x[size_t(i)] * w["wu"].data[size_t(i * 6 + j)];
      }
      out[size_t(j)] = c.f(g, u, w["res"].data[size_t(tok * 6 + j)]);
    }
    want.push_back(out);
  }
  expectNear(run(mlpModule(c.body), w, {{2, 0}, {4}, {4}}), want, 1e-12);
}

const char *kFusedTail = " : tensor<?x4xf32>, tensor<4x6xf32> -> tensor<?x6xf32>";

INSTANTIATE_TEST_SUITE_P(
    Llama, GatedMLP,
    ::testing::Values(
        MLPCase{"glu_silu", "  %out = xfmr.glu %g, %u, silu : tensor<?x6xf32>",
                [](double g, double u, double) { return siluOf(g) * u; }},
        MLPCase{"glu_gelu", "  %out = xfmr.glu %g, %u, gelu : tensor<?x6xf32>",
                [](double g, double u, double) { return geluOf(g) * u; }},
        MLPCase{"silu", "  %out = xfmr.silu %g : tensor<?x6xf32>",
                [](double g, double, double) { return siluOf(g); }},
        MLPCase{"gelu", "  %out = xfmr.gelu %g : tensor<?x6xf32>",
                [](double g, double, double) { return geluOf(g); }},
        MLPCase{"add", "  %out = xfmr.add %g, %r : tensor<?x6xf32>",
                [](double g, double, double r) { return g + r; }},
        // The fused gated MLP: act(norm(x) Wg + b) * u + r.
        MLPCase{"linear_rms_norm_silu_times_residual",
                std::string("  %out = xfmr.linear %x, %wg norm(%gm : tensor<4xf32>) activation(silu) "
                            "times(%u : tensor<?x6xf32>) residual(%r : tensor<?x6xf32>) "
                            "{norm_epsilon = 1.0e-06 : f64}") +
                    kFusedTail,
                [](double g, double u, double r) { return siluOf(g) * u + r; }, "rms"},
        MLPCase{"linear_bias_layer_norm_gelu",
                std::string("  %out = xfmr.linear %x, %wg, %bg norm(%gm : tensor<4xf32>) "
                            "norm_bias(%bt : tensor<4xf32>) activation(gelu) "
                            "{norm_epsilon = 1.0e-06 : f64} : tensor<?x4xf32>, tensor<4x6xf32>, "
                            "tensor<6xf32> -> tensor<?x6xf32>"),
                [](double g, double, double) { return geluOf(g); }, "layer", true},
        MLPCase{"linear_times_only",
                std::string("  %out = xfmr.linear %x, %wg times(%u : tensor<?x6xf32>)") + kFusedTail,
                [](double g, double u, double) { return g * u; }}),
    [](const auto &info) { return std::string(info.param.name); });

// ---- weight types --------------------------------------------------------------

/// bf16 by round to nearest even on the f32 bits.
double bf16Of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b = (b + 0x7fff + ((b >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&f, &b, 4);
  return f;
}

/// x (width 32) times a [32, 3] weight of type `type`.
std::string typedLinear(const std::string &type) {
  return std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x3xf32> {
  %e = xfmr.weight "emb" : tensor<4x32xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<4x32xf32> -> tensor<?x32xf32>
  %w = xfmr.weight "w" : tensor<32x3x)" + type + R"(>
  %y = xfmr.linear %x, %w : tensor<?x32xf32>, tensor<32x3x)" + type + R"(> -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
})";
}

/// y = x' W' with W' from `dequant` per output column and x' from `roundX`.
Rows expectedTyped(TensorMap &w, const std::vector<int32_t> &seq,
                   const std::function<std::vector<double>(std::vector<float>)> &dequant,
                   const std::function<std::vector<double>(std::vector<double>)> &roundX) {
  std::vector<std::vector<double>> cols;
  for (int c = 0; c < 3; ++c) {
    std::vector<float> col(32);
    for (int k = 0; k < 32; ++k)
      col[size_t(k)] = w["w"].data[size_t(k * 3 + c)];
    cols.push_back(dequant(col));
  }
  Rows want;
  for (int32_t tok : seq) {
    std::vector<double> x = roundX(rowOf(w["emb"], tok)), y(3);
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 32; ++k)
        y[size_t(c)] += x[size_t(k)] * cols[size_t(c)][size_t(k)];
    want.push_back(y);
  }
  return want;
}

TEST(WeightTypes, Int8PerChannelF16Scales) {
  std::mt19937 rng(5);
  TensorMap w{{"emb", randomTensor({4, 32}, rng)}, {"w", randomTensor({32, 3}, rng)}};
  // s = f16(max|w| / 127) per output column, q = roundeven(w / s).
  auto dequant = [](std::vector<float> col) {
    float amax = 0;
    for (float v : col)
      amax = std::max(amax, std::fabs(v));
    float s = float(halfOf(amax / 127.f));
    std::vector<double> out;
    for (float v : col)
      out.push_back(std::clamp(std::nearbyint(v * (1.f / s)), -127.f, 127.f) * s);
    return out;
  };
  auto same = [](std::vector<double> x) { return x; };
  // Activations per block of 32 as VNNI does: one scale max|x| / 127.
  auto int8x = [](std::vector<double> x) {
    float amax = 0;
    for (double v : x)
      amax = std::max(amax, std::fabs(float(v)));
    for (double &v : x)
      v = std::nearbyint(float(v) * (127.f / amax)) * (amax / 127.f);
    return x;
  };
  std::string text = typedLinear("i8, #xfmr.quant<bits = 8, group = 0, scale = f16>");
  std::vector<int32_t> seq{3, 1, 2};
  expectNear(run(text, w, {seq}), expectedTyped(w, seq, dequant, same), 1e-12);
  expectNear(run(text, w, {seq}, {true}), expectedTyped(w, seq, dequant, int8x), 1e-12);
}

TEST(WeightTypes, BF16RoundsWeightsAndWithDotInputs) {
  std::mt19937 rng(6);
  TensorMap w{{"emb", randomTensor({4, 32}, rng)}, {"w", randomTensor({32, 3}, rng)}};
  auto dequant = [](std::vector<float> col) {
    std::vector<double> out;
    for (float v : col)
      out.push_back(bf16Of(v));
    return out;
  };
  auto same = [](std::vector<double> x) { return x; };
  auto bf16x = [](std::vector<double> x) {
    for (double &v : x)
      v = bf16Of(float(v));
    return x;
  };
  std::vector<int32_t> seq{0, 3};
  expectNear(run(typedLinear("bf16"), w, {seq}), expectedTyped(w, seq, dequant, same), 1e-12);
  expectNear(run(typedLinear("bf16"), w, {seq}, {true}), expectedTyped(w, seq, dequant, bf16x),
             1e-12);
}

// int4 with zero points on a [V, D] LM head: groups of 32 along D (each
// vocabulary row), s = f16((max - min) / 15), m = f16(min), codes in [0, 15].
TEST(WeightTypes, Int4ZeroPointLMHeadAlongRows) {
  std::string text = std::string(kCache1) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x3xf32> {
  %e = xfmr.weight "emb" : tensor<4x64xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<4x64xf32> -> tensor<?x64xf32>
  %w = xfmr.weight "head" : tensor<3x64xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>>
  %l = xfmr.lm_head %x, %w : tensor<?x64xf32>, tensor<3x64xi4, #xfmr.quant<bits = 4, group = 32, scale = f16, zero_point = true>> -> tensor<?x3xf32>
  return %l : tensor<?x3xf32>
})";
  std::mt19937 rng(7);
  TensorMap w{{"emb", randomTensor({4, 64}, rng)}, {"head", randomTensor({3, 64}, rng)}};
  std::vector<int32_t> seq{1, 2, 0};
  Rows want;
  for (int32_t tok : seq) {
    std::vector<double> x = rowOf(w["emb"], tok), y(3);
    for (int v = 0; v < 3; ++v)
      for (int g0 = 0; g0 < 64; g0 += 32) {
        const float *grp = w["head"].data.data() + v * 64 + g0;
        float lo = *std::min_element(grp, grp + 32), hi = *std::max_element(grp, grp + 32);
        float s = float(halfOf((hi - lo) / 15.f)), m = float(halfOf(lo));
        for (int i = 0; i < 32; ++i) {
          float code = std::clamp(std::nearbyint((grp[i] - m) * (1.f / s)), 0.f, 15.f);
          y[size_t(v)] += x[size_t(g0 + i)] * double(code * s + m);
        }
      }
    want.push_back(y);
  }
  expectNear(run(text, w, {seq}), want, 1e-12);
}

// ---- a whole Llama ----------------------------------------------------------------

// Decoding one token at a time, one call, and a prompt plus decode steps all
// compute the same logits; reset() starts over (cache and jitter stream).
TEST(Llama, DecodeEqualsPrefillAndResetStartsOver) {
  HandLlama c;
  mlir::MLIRContext ctx;
  std::string err;
  auto module = parseModule(ctx, llamaModule(c), &err);
  ASSERT_TRUE(module) << err;
  ModelPasses passes{{}, {io::WeightFormat::Int8, 0, true}, {}, "int8"};
  ASSERT_TRUE(runPasses(*module, [&](mlir::PassManager &pm) { passes.addTo(pm); }, &err))
      << err;
  reference::Interpreter interp(*module, mapLoader(llamaWeights(c, 3)), {true, 1e-7});
  ASSERT_TRUE(interp.ok()) << interp.error();
  std::vector<int32_t> seq = randomTokens(20, c.vocab, 8);
  Logits whole = interp.forward(seq);
  ASSERT_EQ(whole.size(), seq.size()) << interp.error();
  EXPECT_EQ(interp.position(), 20);
  interp.reset();
  EXPECT_EQ(interp.position(), 0);
  Logits again = interp.forward(seq);
  EXPECT_EQ(worstRelativeL2(again, whole), 0) << "reset() did not start over";
  interp.reset();
  Logits stepwise;
  for (int32_t t : seq)
    for (auto &row : interp.forward({t}))
      stepwise.push_back(row);
  EXPECT_LT(worstRelativeL2(stepwise, whole), 1e-12);
}

} // namespace

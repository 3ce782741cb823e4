// End to end: random GPT-2 and Llama-family models -> xfmr compile ->
// runtime, against the float64 interpreter of the same module (the IR after
// the model-level passes the compile ran) on the same weights.
#include "compare.h"
#include "../support/small_models.h"
#include "compile_model.h"
#include "reference_model.h"
#include "xfmr/Lowering/CPUTarget.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"
#include "xfmr/io/quantize.h"
#include "xfmr/runtime.h"
#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <cstring>

#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>

using namespace xfmr;
using xfmr::test::relativeL2;

namespace {
using io::WeightFormat;

struct Case {
  const char *name;
  io::GPT2Config config;
  int threads;
  io::RandomModelFormat format = {};
  std::vector<int64_t> dropLayers = {};
  std::string precision = "f32";
  io::QuantScheme scheme = {};
  std::vector<std::string> keep = {};
  double bound = 1e-4; // relative L2 per position against the reference
  std::string kv = "f32";
  bool allowVNNI = true; // int8: integer dot products where the CPU has them
  unsigned seed = 0;     // 0: fresh random weights and tokens each run
  /// Where the kernels round activations (VNNI), float32-sized differences
  /// flip codes near rounding boundaries and random layers amplify the flips.
  /// Non-zero: a second reference whose activations move by this relative
  /// amount before rounding measures that sensitivity, and the kernels' mean
  /// error must stay within twice the reference's own gap.
  double jitter = 0;
  bool amx = false; // int8 prefill on AMX tiles (skipped without AMX)
  int64_t attentionSplits = 1; // flash-decoding ranges per kv head
  /// A Llama-family model instead of `config`'s GPT-2.
  std::optional<io::LlamaConfig> llama = std::nullopt;
  io::RandomLlamaFormat llamaFormat = {};
  int64_t context = 0; // --context (0: the model's)
  /// The model (Llama or GPT-2) exported as a GGUF file of this type (as
  /// llama.cpp's converter and quantizer write it), compiled and
  /// interpreted from the file alone: its Q8_0 / Q4_0 blocks are the
  /// weights' own types.
  std::optional<io::GGMLType> gguf = std::nullopt;
  /// A model file to compile as it is (test/import/data), instead of a
  /// random model.
  std::string file = "";
  /// GPT-2 GGUF: add output.weight, a copy of token_embd's blocks, as older
  /// llama.cpp converters wrote it (the file's LM head then).
  bool ggufOutputWeight = false;
  bool noFuse = false; // compile without the fusion passes
};

/// `file` again with output.weight, a copy of token_embd.weight.
void addOutputWeight(const std::string &file) {
  std::string err;
  std::vector<io::GGUFTensorData> tensors;
  std::vector<std::pair<std::string, io::GGUFValue>> kv;
  {
    auto g = io::GGUFFile::open(file, &err);
    ASSERT_TRUE(g) << err;
    kv = g->metadata();
    for (const io::GGUFTensorInfo &t : g->tensors()) {
      const uint8_t *p = g->data(t);
      tensors.push_back({t.name, t.ne, t.type, std::vector<uint8_t>(p, p + t.bytes)});
      if (t.name == "token_embd.weight")
        tensors.push_back({"output.weight", t.ne, t.type, std::vector<uint8_t>(p, p + t.bytes)});
    }
  }
  ASSERT_TRUE(io::writeGGUF(file, kv, tensors, &err)) << err;
}

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

class ModelEndToEnd : public ::testing::TestWithParam<Case> {};

TEST_P(ModelEndToEnd, MatchesReferenceAndRecompute) {
  const Case &c = GetParam();
  test::TempDir tmp;
  std::string modelDir = tmp.path + "/model", outDir = tmp.path + "/out", err;
  unsigned seed = c.seed ? c.seed : std::random_device{}();
  SCOPED_TRACE("weights seed " + std::to_string(seed));
  if (!c.file.empty()) {
    modelDir = c.file;
  } else if (c.llama) {
    ASSERT_TRUE(io::writeRandomLlama(modelDir, *c.llama, seed, &err, c.llamaFormat)) << err;
    if (c.gguf) {
      auto dir = io::ModelDir::open(modelDir, &err);
      ASSERT_TRUE(dir) << err;
      const std::string file = tmp.path + "/model.gguf";
      ASSERT_TRUE(io::writeLlamaGGUF(llvm::cast<io::LlamaModel>(*dir), file, *c.gguf, &err))
          << err;
      modelDir = file;
    }
  } else {
    ASSERT_TRUE(io::writeRandomGPT2(modelDir, c.config, seed, &err, c.format)) << err;
    if (c.gguf) {
      auto dir = io::ModelDir::open(modelDir, &err);
      ASSERT_TRUE(dir) << err;
      const std::string file = tmp.path + "/model.gguf";
      ASSERT_TRUE(io::writeGPT2GGUF(llvm::cast<io::GPT2Model>(*dir), file, *c.gguf, &err))
          << err;
      if (c.ggufOutputWeight)
        addOutputWeight(file);
      modelDir = file;
    }
  }
  CompileOptions opts;
  opts.maxTokens = 16; // the 16-token prompt fills one chunk exactly
  opts.dropLayers = c.dropLayers;
  opts.precision = c.precision;
  opts.groupSize = c.scheme.group;
  opts.scaleType = c.scheme.f16Scales ? "f16" : "f32";
  opts.zeroPoint = c.scheme.zeroPoint;
  opts.keep = c.keep;
  opts.kvPrecision = c.kv;
  opts.noDot = !c.allowVNNI;
  opts.bf16Dot = c.precision == "bf16" && c.allowVNNI;
  opts.amx = c.amx;
  opts.attentionSplits = c.attentionSplits;
  opts.context = c.context;
  opts.noFuse = c.noFuse;
  if (c.amx && !mlir::xfmr::CPUTarget::host().hasAMX())
    GTEST_SKIP() << "no AMX on this CPU";
  ASSERT_EQ(compileModel(modelDir, outDir, opts, &err), 0) << err;

  xfmr_model *model = xfmr_model_open(outDir.c_str(), c.threads);
  ASSERT_TRUE(model) << xfmr_last_error();
  xfmr_session *s = xfmr_session_create(model, 0);
  const int vocab = xfmr_model_vocab_size(model);
  // The interpreter of the module the compile started from; its dot-product
  // roundings (VNNI, AVX512-BF16) follow the schedules this host gets.
  driver::ReferenceModel reference, jitteredReference;
  ASSERT_EQ(driver::openReference(modelDir, opts, 0, reference, &err), 0) << err;
  reference::Interpreter &ref = *reference.interpreter;
  reference::Interpreter *jittered = nullptr;
  // Where nothing rounds activations (neither VNNI nor AVX2 dot products)
  // there is no sensitivity to measure (the jittered reference equals the
  // plain one): the kernels are weight-only there, held to the case's
  // bound alone.
  auto host = mlir::xfmr::CPUTarget::host();
  const bool rounds = host.hasVNNI() || host.hasAVX2();
  if (c.jitter && rounds) {
    ASSERT_EQ(driver::openReference(modelDir, opts, c.jitter, jitteredReference, &err), 0)
        << err;
    jittered = jitteredReference.interpreter.get();
  }
  double sumError = 0, sumGap = 0;
  auto againstJittered = [&](const std::vector<std::vector<double>> &refRows,
                             const std::vector<int32_t> &tokens,
                             const float *rows) {
    if (!jittered)
      return;
    auto j = jittered->forward(tokens);
    for (size_t t = 0; t < tokens.size(); ++t) {
      sumGap += relativeL2(j[t].data(), refRows[t]);
      sumError += relativeL2(rows + t * size_t(vocab), refRows[t]);
    }
  };


  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
  std::vector<int32_t> seq(32);
  for (auto &t : seq)
    t = tok(rng);

  // 16-token prompt, all positions' logits.
  ASSERT_EQ(xfmr_prefill(s, seq.data(), 16, 1), 0) << xfmr_last_error();
  int rows = 0;
  const float *logits = xfmr_logits(s, &rows);
  ASSERT_EQ(rows, 16);
  auto refLogits = ref.forward({seq.begin(), seq.begin() + 16});
  againstJittered(refLogits, {seq.begin(), seq.begin() + 16}, logits);
  std::vector<float> cached(size_t(32) * vocab);
  double worst = 0;
  for (int t = 0; t < 16; ++t) {
    double e = relativeL2(logits + size_t(t) * vocab, refLogits[t]);
    worst = std::max(worst, e);
    EXPECT_LT(e, c.bound) << "prompt position " << t;
    std::copy(logits + size_t(t) * vocab, logits + size_t(t + 1) * vocab,
              cached.begin() + long(t) * vocab);
  }
  // 16 decode steps through the KV cache.
  for (int t = 16; t < 32; ++t) {
    ASSERT_EQ(xfmr_decode(s, seq[t]), 0) << xfmr_last_error();
    const float *row = xfmr_logits(s, nullptr);
    auto r = ref.forward({seq[t]});
    againstJittered(r, {seq[t]}, row);
    double e = relativeL2(row, r[0]);
    worst = std::max(worst, e);
    EXPECT_LT(e, c.bound) << "decode position " << t;
    std::copy(row, row + vocab, cached.begin() + long(t) * vocab);
  }
  std::printf("  worst relative L2 error vs the float64 reference: %.3g\n", worst);
  if (jittered) {
    double meanError = sumError / 32, meanGap = sumGap / 32;
    std::printf("  mean error %.3g; the reference against itself with activations "
                "moved by %.0e: %.3g\n", meanError, c.jitter, meanGap);
    EXPECT_LT(meanError, 2 * meanGap) << "kernels drift further from the "
                                         "reference than its own sensitivity";
  }
  // Recomputing the whole sequence in one call (two chunks of 16) gives
  // the same logits as the cache did.
  xfmr_session_reset(s);
  ASSERT_EQ(xfmr_prefill(s, seq.data(), 32, 1), 0) << xfmr_last_error();
  const float *full = xfmr_logits(s, &rows);
  ASSERT_EQ(rows, 32);
  for (int t = 0; t < 32; ++t)
    EXPECT_LT(relativeL2(cached.data() + size_t(t) * vocab,
                         full + size_t(t) * vocab, size_t(vocab)),
              1e-5)
        << "position " << t;
  // Weights in huge-page memory (the default) or mapped from the file: the
  // same bytes, so the same logits, bit for bit.
  int64_t huge = xfmr_model_weight_huge_page_bytes(model);
  EXPECT_GE(huge, -1);
  EXPECT_LE(huge, xfmr_model_weight_bytes(model));
  xfmr_model *mapped = xfmr_model_open_mapped(outDir.c_str(), c.threads);
  ASSERT_TRUE(mapped) << xfmr_last_error();
  xfmr_session *ms = xfmr_session_create(mapped, 0);
  ASSERT_EQ(xfmr_prefill(ms, seq.data(), 32, 1), 0) << xfmr_last_error();
  EXPECT_EQ(std::memcmp(xfmr_logits(ms, nullptr), full, sizeof(float) * 32 * size_t(vocab)), 0)
      << "mapped weights give other logits";
  xfmr_session_free(ms);
  xfmr_model_close(mapped);
  // A session may not ask for more positions than the model was compiled
  // for (its positional table and KV cache end there).
  int ctx = xfmr_model_context_length(model);
  EXPECT_EQ(xfmr_session_create(model, ctx + 1), nullptr);
  EXPECT_NE(std::string(xfmr_last_error()).find("exceeds the model's"), std::string::npos)
      << xfmr_last_error();
  // The compiled model checks out whole.
  EXPECT_EQ(xfmr_model_verify(outDir.c_str()), 0) << xfmr_last_error();
  xfmr_session_free(s);
  xfmr_model_close(model);
}

INSTANTIATE_TEST_SUITE_P(
    GPT2Small124M, ModelEndToEnd,
    ::testing::Values(Case{"gpt2_124m_2threads", io::GPT2Config{}, 2},
                      // Weight-only int8 (widened in registers): the scheme
                      // is a function of the weights alone, bound 1e-3.
                      Case{"gpt2_124m_int8_weight_only", io::GPT2Config{}, 2, {}, {},
                           "int8", {WeightFormat::Int8, 0, true}, {}, 1e-3, "f32",
                           false},
                      // VNNI int8 also rounds the activations (blocks of 32).
                      // The reference rounds its float64 activations, the
                      // kernel its float32 ones; values next to a rounding
                      // boundary land on different codes, and twelve layers of
                      // random weights amplify those flips. Moving the
                      // reference's own activations by 1e-7 (one float32
                      // rounding) moves its logits by 1.44e-2 (int8) and 1.11e-2
                      // (int4); the kernels' mean error is 1.39e-2 / 6.7e-3
                      // (seed 1234, measured 2026-11-25). So 1e-3 is out of
                      // reach of any float32 kernel here; the test holds the
                      // kernels to twice the reference's own gap and to 2e-2.
                      // The exact rule is checked per kernel in kernel_tests
                      // (2e-6) and end to end on the two-layer model (case
                      // int8_vnni: 2e-7).
                      Case{"gpt2_124m_int8_vnni", io::GPT2Config{}, 2, {}, {}, "int8",
                           {WeightFormat::Int8, 0, true}, {}, 2e-2, "f32", true, 1234, 1e-7},
                      Case{"gpt2_124m_int4_weight_only", io::GPT2Config{}, 2, {}, {},
                           "int4", {WeightFormat::Int4, 32, true}, {}, 1e-3, "f32",
                           false},
                      // As int8 VNNI: activation rounding flips, amplified.
                      Case{"gpt2_124m_int4_vnni", io::GPT2Config{}, 2, {}, {}, "int4",
                           {WeightFormat::Int4, 32, true}, {}, 2e-2, "f32", true, 1234, 1e-7}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Small, ModelEndToEnd,
    ::testing::Values(Case{"small_1thread", test::smallGPT2(), 1},
                      Case{"small_2threads", test::smallGPT2(), 2},
                      Case{"odd_shapes_2threads", test::oddGPT2(), 2},
                      // Real checkpoints: half-precision tensors, a
                      // "transformer." prefix, attention mask buffers.
                      Case{"f16_prefixed_with_buffers", test::smallGPT2(), 2,
                           {io::DType::F16, "transformer.", true}},
                      Case{"bf16", test::smallGPT2(), 2, {io::DType::BF16, "", false}},
                      Case{"pruned_blocks_1_and_2", test::fourLayerGPT2(), 2, {}, {1, 2}}),
    [](const auto &info) { return std::string(info.param.name); });

/// GPT-2 as a GGUF file of `type` (llama.cpp's names, linears [out, in]
/// read as transposed views): weight-only kernels (`dot` false) meet the
/// f32 bound against the interpreter of the file's dequantized values; the
/// dot-product kernels round activations too (the quantized bound).
Case gpt2GGUF(const char *name, io::GGMLType type, bool dot) {
  Case k{name, test::smallGPT2(), 2};
  k.gguf = type;
  k.allowVNNI = dot;
  k.bound = dot ? 2e-2 : 1e-4;
  k.seed = dot ? 1234 : 0;
  return k;
}

Case gpt2KQuantGGUF(const char *name, io::GGMLType type, bool dot) {
  Case k = gpt2GGUF(name, type, dot);
  k.config.nEmbd = 256;
  k.config.nHead = 8;
  return k;
}

INSTANTIATE_TEST_SUITE_P(
    GPT2GGUF, ModelEndToEnd,
    ::testing::Values(
        gpt2GGUF("gguf_f16", io::GGMLType::F16, false),
        gpt2GGUF("gguf_q8_0", io::GGMLType::Q8_0, false),
        gpt2GGUF("gguf_q8_0_vnni", io::GGMLType::Q8_0, true),
        gpt2GGUF("gguf_q4_0", io::GGMLType::Q4_0, false),
        gpt2GGUF("gguf_q4_0_vnni", io::GGMLType::Q4_0, true),
        // Unfused, Q, K and V stay three transposed views of attn_qkv's
        // rows, each packed from the file's blocks.
        [] {
          Case k = gpt2GGUF("gguf_q8_0_unfused", io::GGMLType::Q8_0, false);
          k.noFuse = true;
          return k;
        }(),
        [] {
          Case k = gpt2GGUF("gguf_q4_0_unfused_vnni", io::GGMLType::Q4_0, true);
          k.noFuse = true;
          return k;
        }(),
        // An output.weight of the file's own: the LM head is a linear over it.
        [] {
          Case k = gpt2GGUF("gguf_q8_0_output_weight", io::GGMLType::Q8_0, false);
          k.ggufOutputWeight = true;
          return k;
        }(),
        // K-quants: a GPT-2 whose width is whole super-blocks of 256.
        gpt2KQuantGGUF("gguf_q4_k", io::GGMLType::Q4_K, false),
        gpt2KQuantGGUF("gguf_q4_k_vnni", io::GGMLType::Q4_K, true),
        gpt2KQuantGGUF("gguf_q6_k", io::GGMLType::Q6_K, false)),
    [](const auto &info) { return std::string(info.param.name); });

// Quantized models compute what their scheme says: the reference runs the
// same quantize-dequantize of the weights (within 1e-3, issue 4's bound).
INSTANTIATE_TEST_SUITE_P(
    Quantized, ModelEndToEnd,
    ::testing::Values(
        Case{"bf16", test::smallGPT2(), 2, {}, {}, "bf16", {WeightFormat::BF16}, {}, 1e-3,
             "f32", false},
        Case{"bf16_dot", test::smallGPT2(), 2, {}, {}, "bf16", {WeightFormat::BF16}, {}, 2e-2,
             "f32", true, 1234},
        Case{"int8", test::smallGPT2(), 2, {}, {}, "int8", {WeightFormat::Int8, 0, true}, {},
             1e-3, "f32", false},
        Case{"int8_f32scales_keep_lm_head", test::smallGPT2(), 2, {}, {}, "int8",
             {WeightFormat::Int8, 0, false}, {"lm_head"}, 1e-3, "f32", false},
        // VNNI int8 rounds the activations too; see gpt2_124m_int8_vnni for
        // why its bound is looser. Fixed seed: a pass or fail must not depend
        // on which values happen to sit on a rounding boundary.
        Case{"int8_vnni", test::smallGPT2(), 2, {}, {}, "int8", {WeightFormat::Int8, 0, true},
             {}, 2e-2, "f32", true, 1234},
        // Flash-decoding: each kv head's positions in 2 or 3 ranges, merged
        // per row (ranges are empty for the first positions).
        Case{"split_attention_2", test::smallGPT2(), 2, {}, {}, "f32", {}, {}, 1e-4, "f32",
             true, 0, 0, false, 2},
        Case{"split_attention_3_int8_kv", test::smallGPT2(), 3, {}, {}, "f32", {}, {}, 1e-3,
             "int8", true, 1234, 0, false, 3}, // fixed seed: see kv_int8
        // The 16-token prompt is one AMX tile of rows; decode stays on VNNI.
        Case{"int8_vnni_amx", test::smallGPT2(), 2, {}, {}, "int8", {WeightFormat::Int8, 0, true},
             {}, 2e-2, "f32", true, 1234, 0, true},
        Case{"int4_g32", test::smallGPT2(), 2, {}, {}, "int4", {WeightFormat::Int4, 32, true}, {},
             1e-3, "f32", false},
        Case{"int4_g64_zero_point_keep_embedding", test::smallGPT2(), 2, {}, {}, "int4",
             {WeightFormat::Int4, 64, true, true}, {"embedding"}, 1e-3, "f32", false},
        Case{"int4_g32_vnni", test::smallGPT2(), 2, {}, {}, "int4", {WeightFormat::Int4, 32, true},
             {}, 2e-2, "f32", true, 1234},
        // Widths 24 and 97: only the MLP down projection (K = 96) has
        // groups of 32; the other matrices are kept f32 by name (a group
        // that does not divide a matrix is a compile error, not a silent
        // f32 fallback).
        Case{"int4_odd_shapes_rest_kept_f32", test::oddGPT2(), 2, {}, {}, "int4",
             {WeightFormat::Int4, 32, true}, {"attn.", "c_fc", "lm_head", "embedding"}, 1e-3,
             "f32", false},
        // The KV cache stored in f16 or int8, with f32 and int8 weights.
        Case{"kv_f16", test::smallGPT2(), 2, {}, {}, "f32", {}, {}, 1e-3, "f16"},
        // An int8 KV cache rounds each stored head vector; a value next to
        // a code boundary rounds differently in float32 (kernel) and float64
        // (reference), as with VNNI activations. Over 80 fresh-seed runs the
        // worst was 2.6e-4, but one CI run hit 1.3e-3, so these use a fixed
        // seed; the cache kernel itself is checked exactly on fresh inputs
        // (kernel_tests, CacheAttentionKernel).
        Case{"kv_int8", test::smallGPT2(), 2, {}, {}, "f32", {}, {}, 1e-3, "int8", true, 1234},
        Case{"int8_weights_kv_int8", test::smallGPT2(), 2, {}, {}, "int8",
             {WeightFormat::Int8, 0, true}, {}, 1e-3, "int8", false, 1234}),
    [](const auto &info) { return std::string(info.param.name); });
// ---------------------------------------------------------------- Llama --
// Llama-family cases start from test::tinyLlama() (test/support).
using test::tinyLlama;

Case llama(const char *name, io::LlamaConfig c, io::RandomLlamaFormat format = {}) {
  Case k{name, {}, 2};
  k.llama = c;
  k.llamaFormat = format;
  return k;
}

/// A Llama case compiled at `precision` (weights only unless `dot`).
Case llamaQuantized(const char *name, std::string precision, io::QuantScheme scheme,
                    double bound, bool dot, std::string kv = "f32") {
  Case k = llama(name, tinyLlama());
  k.precision = std::move(precision);
  k.scheme = scheme;
  k.bound = bound;
  k.allowVNNI = dot;
  k.kv = std::move(kv);
  k.seed = dot || k.kv == "int8" ? 1234 : 0; // rounding flips: see the GPT-2 cases
  return k;
}

/// A GGUF file of `type`: weight-only kernels (`dot` false) meet the f32
/// bound against the interpreter of the file's dequantized values; the
/// dot-product kernels round activations too (the quantized bound).
Case llamaGGUF(const char *name, io::GGMLType type, bool dot) {
  Case k = llama(name, tinyLlama());
  k.gguf = type;
  k.allowVNNI = dot;
  k.bound = dot ? 2e-2 : 1e-4;
  k.seed = dot ? 1234 : 0;
  return k;
}

io::LlamaConfig with(io::LlamaConfig c, const std::function<void(io::LlamaConfig &)> &edit) {
  edit(c);
  return c;
}

/// A K-quant GGUF: tinyLlama widened so every matrix's rows are whole
/// super-blocks (hidden 256 = 8 heads of 32, intermediate 512). With `dot`
/// the Q4_K matrices run VNNI; Q6_K has no dot-product decoder, so its
/// matrices stay weight-only while the rest of the model (the f32 ones)
/// may use dot products.
Case kQuantGGUF(const char *name, io::GGMLType type, bool dot) {
  Case k = llamaGGUF(name, type, dot);
  k.llama = with(tinyLlama(), [](auto &c) {
    c.hidden = 256;
    c.intermediate = 512;
    c.heads = 8;
    c.kvHeads = 4;
    c.headDim = 32;
  });
  return k;
}

INSTANTIATE_TEST_SUITE_P(
    Llama, ModelEndToEnd,
    ::testing::Values(
        llama("llama_gqa_untied", tinyLlama()),
        llama("llama_gqa_tied", with(tinyLlama(), [](auto &c) { c.tieEmbeddings = true; })),
        // head_dim 32 (the partner half is a whole vector), multi-query.
        llama("llama_mqa_head_dim_32", with(tinyLlama(), [](auto &c) {
                c.heads = 2;
                c.kvHeads = 1;
                c.headDim = 32;
              })),
        // Llama 3.1: theta 500000 and llama3 scaling whose bands fall inside
        // 32 positions (original context 16), so all three matter.
        llama("llama3_rope_scaling", with(tinyLlama(), [](auto &c) {
                c.ropeTheta = 500000;
                c.ropeScaling.kind = io::RopeScaling::Kind::Llama3;
                c.ropeScaling.factor = 8;
                c.ropeScaling.originalContext = 16;
              })),
        llama("linear_rope_scaling", with(tinyLlama(), [](auto &c) {
                c.ropeScaling.kind = io::RopeScaling::Kind::Linear;
                c.ropeScaling.factor = 4;
              })),
        llama("llama_attention_bias", with(tinyLlama(), [](auto &c) {
                c.qkvBias = c.outputBias = true;
              }), {io::DType::F32}),
        llama("qwen2_biases_tied", with(tinyLlama(), [](auto &c) {
                c.modelType = "qwen2";
                c.qkvBias = true;
                c.tieEmbeddings = true;
                c.ropeTheta = 1e6;
              }), {io::DType::BF16}),
        llama("mistral_window_covers_context", with(tinyLlama(), [](auto &c) {
                c.modelType = "mistral";
                c.slidingWindow = 64;
              })),
        [] {
          // Compiled for 32 positions, within a window of 32.
          Case k = llama("mistral_context_32", with(tinyLlama(), [](auto &c) {
                           c.modelType = "mistral";
                           c.slidingWindow = 32;
                         }));
          k.context = 32;
          return k;
        }(),
        llama("sharded_bf16", tinyLlama(), {io::DType::BF16, 3}),
        llama("f32_source", tinyLlama(), {io::DType::F32}),
        [] {
          Case k = llama("one_thread", tinyLlama());
          k.threads = 1;
          return k;
        }(),
        [] {
          Case k = llama("split_attention_2", tinyLlama());
          k.attentionSplits = 2;
          return k;
        }(),
        [] {
          Case k = llama("pruned_layer_1", with(tinyLlama(), [](auto &c) { c.layers = 3; }));
          k.dropLayers = {1};
          return k;
        }(),
        llamaQuantized("bf16", "bf16", {WeightFormat::BF16}, 1e-3, false),
        llamaQuantized("bf16_dot", "bf16", {WeightFormat::BF16}, 2e-2, true),
        llamaQuantized("int8", "int8", {WeightFormat::Int8, 0, true}, 1e-3, false),
        llamaQuantized("int8_vnni", "int8", {WeightFormat::Int8, 0, true}, 2e-2, true),
        llamaQuantized("int4_g32", "int4", {WeightFormat::Int4, 32, true}, 1e-3, false),
        llamaQuantized("int4_g32_vnni", "int4", {WeightFormat::Int4, 32, true}, 2e-2, true),
        llamaQuantized("kv_f16", "f32", {}, 1e-3, true, "f16"),
        llamaQuantized("kv_int8", "f32", {}, 1e-3, true, "int8"),
        // Weights as llama.cpp's blocks: int8 in groups of 32 (--group-size
        // 32, as Q8_0 is) quantized here, then GGUF files read natively.
        llamaQuantized("int8_g32", "int8", {WeightFormat::Int8, 32, true}, 1e-3, false),
        llamaQuantized("int8_g32_vnni", "int8", {WeightFormat::Int8, 32, true}, 2e-2, true),
        llamaGGUF("gguf_f16", io::GGMLType::F16, true),
        llamaGGUF("gguf_q8_0", io::GGMLType::Q8_0, false),
        llamaGGUF("gguf_q8_0_vnni", io::GGMLType::Q8_0, true),
        llamaGGUF("gguf_q4_0", io::GGMLType::Q4_0, false),
        llamaGGUF("gguf_q4_0_vnni", io::GGMLType::Q4_0, true),
        // K-quants (super-blocks of 256: a model whose every reduction is
        // a multiple of it), read natively.
        kQuantGGUF("gguf_q4_k", io::GGMLType::Q4_K, false),
        kQuantGGUF("gguf_q4_k_vnni", io::GGMLType::Q4_K, true),
        kQuantGGUF("gguf_q6_k", io::GGMLType::Q6_K, false),
        kQuantGGUF("gguf_q6_k_dot_elsewhere", io::GGMLType::Q6_K, true),
        // llama.cpp's own Q4_K_M file: its Q4_K and Q6_K blocks read as
        // they are, the interpreter running the file's exact values:
        // weight-only kernels at the f32 bound.
        [] {
          Case k = llama("gguf_q4_k_m_from_llama_cpp", tinyLlama());
          k.file = std::string(XFMR_IMPORT_DATA_DIR) + "/tiny-q4_k_m.gguf";
          k.allowVNNI = false;
          k.bound = 1e-4;
          return k;
        }()),
    [](const auto &info) { return std::string(info.param.name); });
} // namespace

namespace {
// A GGUF block whose f16 scale is NaN would make every logit NaN: the
// compile refuses it, naming the file, tensor and block, and writes nothing.
TEST(GGUFBlocks, NonFiniteScaleIsRefused) {
  test::TempDir tmp;
  std::string dir = tmp.path + "/model", file = tmp.path + "/q8.gguf", out = tmp.path + "/out",
              err;
  ASSERT_TRUE(io::writeRandomLlama(dir, test::tinyLlama(), 3, &err)) << err;
  auto m = io::ModelDir::open(dir, &err);
  ASSERT_TRUE(m) << err;
  ASSERT_TRUE(io::writeLlamaGGUF(llvm::cast<io::LlamaModel>(*m), file, io::GGMLType::Q8_0, &err))
      << err;
  // Find the o_proj tensor's first block in the file and make its scale NaN.
  std::string bytes;
  {
    auto g = io::GGUFFile::open(file, &err);
    ASSERT_TRUE(g) << err;
    const io::GGUFTensorInfo *t = g->findTensor("blk.1.attn_output.weight");
    ASSERT_TRUE(t);
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
    std::string first(reinterpret_cast<const char *>(g->data(*t)), 34);
    size_t at = bytes.find(first);
    ASSERT_NE(at, std::string::npos);
    bytes[at] = char(0x00);
    bytes[at + 1] = char(0x7E); // f16 NaN
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  CompileOptions opts;
  EXPECT_EQ(compileModel(file, out, opts, &err), 2);
  EXPECT_NE(err.find(file + ": tensor 'model.layers.1.self_attn.o_proj.weight' has a non-finite "
                            "scale in group 0 of row 0"),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  EXPECT_FALSE(llvm::sys::fs::exists(out));
}
} // namespace

namespace {
// A file whose q and k are Q4_0 but whose v is F16, compiled at int4 g32:
// v quantizes to the same type, so q, k and v still fuse into one linear,
// which packs q and k from the file's blocks and v from its floats; the
// logits agree with the interpreter (which does the same per part).
TEST(GGUFBlocks, StoredAndQuantizedPartsInOneLinear) {
  test::TempDir tmp;
  std::string dir = tmp.path + "/model", err;
  ASSERT_TRUE(io::writeRandomLlama(dir, test::tinyLlama(), 4, &err)) << err;
  auto m = io::ModelDir::open(dir, &err);
  ASSERT_TRUE(m) << err;
  const auto &llama = llvm::cast<io::LlamaModel>(*m);
  const std::string q4 = tmp.path + "/q4.gguf", f16 = tmp.path + "/f16.gguf",
                    mixed = tmp.path + "/mixed.gguf";
  ASSERT_TRUE(io::writeLlamaGGUF(llama, q4, io::GGMLType::Q4_0, &err)) << err;
  ASSERT_TRUE(io::writeLlamaGGUF(llama, f16, io::GGMLType::F16, &err)) << err;
  {
    auto a = io::GGUFFile::open(q4, &err), b = io::GGUFFile::open(f16, &err);
    ASSERT_TRUE(a && b) << err;
    std::vector<io::GGUFTensorData> tensors;
    for (const io::GGUFTensorInfo &t : a->tensors()) {
      const bool v = t.name.find("attn_v.weight") != std::string::npos;
      const io::GGUFTensorInfo &src = v ? *b->findTensor(t.name) : t;
      const uint8_t *p = (v ? *b : *a).data(src);
      tensors.push_back({t.name, t.ne, src.type, std::vector<uint8_t>(p, p + src.bytes)});
    }
    ASSERT_TRUE(io::writeGGUF(mixed, a->metadata(), tensors, &err)) << err;
  }
  CompileOptions opts;
  opts.maxTokens = 16;
  opts.precision = "int4";
  opts.noDot = true;
  const std::string out = tmp.path + "/out";
  ASSERT_EQ(compileModel(mixed, out, opts, &err), 0) << err;
  std::ifstream manifest(out + "/manifest.txt");
  std::string text((std::istreambuf_iterator<char>(manifest)), {});
  EXPECT_NE(text.find("q_proj.weight+model.layers.0.self_attn.k_proj.weight+model.layers.0."
                      "self_attn.v_proj.weight int4g32"),
            std::string::npos)
      << "q, k and v were not one int4 linear";
  driver::ReferenceModel reference;
  ASSERT_EQ(driver::openReference(mixed, opts, 0, reference, &err), 0) << err;
  xfmr_model *model = xfmr_model_open(out.c_str(), 2);
  ASSERT_TRUE(model) << xfmr_last_error();
  xfmr_session *s = xfmr_session_create(model, 0);
  const int vocab = xfmr_model_vocab_size(model);
  std::vector<int32_t> tokens = {1, 5, 9, 2, 7, 3, 11, 4};
  ASSERT_EQ(xfmr_prefill(s, tokens.data(), int(tokens.size()), 1), 0) << xfmr_last_error();
  const float *logits = xfmr_logits(s, nullptr);
  auto ref = reference.interpreter->forward(tokens);
  for (size_t t = 0; t < tokens.size(); ++t)
    EXPECT_LT(relativeL2(logits + t * size_t(vocab), ref[t]), 1e-4) << "position " << t;
  xfmr_session_free(s);
  xfmr_model_close(model);
}
} // namespace

namespace {
/// Logits of every position of `tokens` (one prefill) of the model compiled
/// from `source`.
std::vector<float> compiledLogits(const std::string &source, const std::string &out,
                                  const std::vector<int32_t> &tokens, int *vocab,
                                  bool noFuse = false) {
  CompileOptions opts;
  opts.maxTokens = 16;
  opts.noFuse = noFuse;
  std::string err;
  EXPECT_EQ(compileModel(source, out, opts, &err), 0) << err;
  xfmr_model *model = xfmr_model_open(out.c_str(), 2);
  EXPECT_TRUE(model) << xfmr_last_error();
  if (!model)
    return {};
  xfmr_session *s = xfmr_session_create(model, 0);
  *vocab = xfmr_model_vocab_size(model);
  EXPECT_EQ(xfmr_prefill(s, tokens.data(), int(tokens.size()), 1), 0) << xfmr_last_error();
  const float *l = xfmr_logits(s, nullptr);
  std::vector<float> logits(l, l + tokens.size() * size_t(*vocab));
  xfmr_session_free(s);
  xfmr_model_close(model);
  return logits;
}

// The same F16 weights from a Hugging Face directory (Conv1D [in, out],
// "transformer." names, mask buffers) and from the GGUF file written of it
// (llama.cpp's names, linears [out, in] read as transposed views) give the
// same logits, fused or not (unfused, Q, K and V are c_attn's stored rows
// from 0, E and 2E, read transposed).
TEST(GPT2GGUF, SameLogitsAsTheHuggingFaceDirectory) {
  test::TempDir tmp;
  std::string dir = tmp.path + "/model", file = tmp.path + "/f16.gguf", err;
  ASSERT_TRUE(io::writeRandomGPT2(dir, test::smallGPT2(), 11, &err,
                                  {io::DType::F16, "transformer.", true}))
      << err;
  auto m = io::ModelDir::open(dir, &err);
  ASSERT_TRUE(m) << err;
  ASSERT_TRUE(io::writeGPT2GGUF(llvm::cast<io::GPT2Model>(*m), file, io::GGMLType::F16, &err))
      << err;
  std::vector<int32_t> tokens = {3, 141, 59, 26, 5, 358, 97, 93, 238, 46, 264, 33, 8, 327, 9, 50};
  int vocabHF = 0, vocabGG = 0;
  std::vector<float> hf = compiledLogits(dir, tmp.path + "/hf", tokens, &vocabHF);
  for (bool noFuse : {false, true}) {
    SCOPED_TRACE(noFuse ? "unfused" : "fused");
    std::vector<float> gg = compiledLogits(file, tmp.path + (noFuse ? "/ggu" : "/gg"), tokens,
                                           &vocabGG, noFuse);
    ASSERT_EQ(vocabHF, vocabGG);
    ASSERT_EQ(hf.size(), gg.size());
    ASSERT_EQ(hf.size(), tokens.size() * size_t(vocabHF));
    for (size_t t = 0; t < tokens.size(); ++t)
      EXPECT_LT(relativeL2(gg.data() + t * size_t(vocabHF), hf.data() + t * size_t(vocabHF),
                           size_t(vocabHF)),
                1e-5)
          << "position " << t;
  }
}
} // namespace

// Fused and split IR compute what unfused IR computes: the interpreter runs
// the module before and after xfmr-fuse-qkv/-norms/-epilogues and
// xfmr-split-attention, so a pass that changes the function is caught here
// without compiling a kernel. Also: decoding through the KV cache one token
// at a time computes what one call over the whole sequence computes.
#include "interpreter_support.h"
#include "llama_model.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace xfmr;
using namespace xfmr::test;
using io::WeightFormat;

namespace {

template <typename OpT> int count(mlir::ModuleOp m) {
  int n = 0;
  m.walk([&](OpT) { ++n; });
  return n;
}

/// The IR variants of one model: (name, passes after the model-level ones).
struct Variant {
  const char *name;
  std::function<void(mlir::PassManager &)> build;
  std::function<void(mlir::ModuleOp)> checkChanged; // the passes did act
};

std::vector<Variant> variants(int layers) {
  using namespace mlir::xfmr;
  auto split = [](int64_t s) {
    return [s](mlir::PassManager &pm) {
      pm.addPass(createXfmrSplitAttentionPass(XfmrSplitAttentionPassOptions{s}));
    };
  };
  auto splitChanged = [layers](mlir::ModuleOp m) {
    EXPECT_EQ(count<AttentionPartialOp>(m), layers);
    EXPECT_EQ(count<AttentionCombineOp>(m), layers);
    EXPECT_EQ(count<AttentionOp>(m), 0);
  };
  auto fusedChanged = [](mlir::ModuleOp m) {
    EXPECT_EQ(count<AddOp>(m), 0) << "residual adds not fused";
    EXPECT_EQ(count<GeluOp>(m) + count<GLUOp>(m), 0) << "activations not fused";
    // Only the final norm before a tied LM head stays (an untied head is a
    // linear, which takes the norm in).
    EXPECT_EQ(count<LayerNormOp>(m) + count<RMSNormOp>(m), count<LMHeadOp>(m))
        << "only the final norm of a tied head stays";
  };
  return {
      {"fused", [](mlir::PassManager &pm) { buildFusionPipeline(pm); }, fusedChanged},
      {"split_2", split(2), splitChanged},
      {"fused_split_3",
       [split](mlir::PassManager &pm) {
         buildFusionPipeline(pm);
         split(3)(pm);
       },
       [=](mlir::ModuleOp m) {
         fusedChanged(m);
         splitChanged(m);
       }},
  };
}

/// Interprets `module` and each variant of it over a 16-token prompt and 16
/// decode steps, and one call over all 32 tokens; all must agree with the
/// unfused prompt + decode to float64 rounding.
void checkVariants(mlir::ModuleOp module, const reference::WeightLoader &load,
                   const reference::InterpreterOptions &options, int layers,
                   int64_t vocab) {
  std::vector<int32_t> seq = randomTokens(32, vocab, 7);
  auto run = [&](mlir::ModuleOp m) {
    reference::Interpreter interp(m, load, options);
    EXPECT_TRUE(interp.ok()) << interp.error();
    return promptThenDecode(seq, [&](const std::vector<int32_t> &t) {
      reference::Logits l = interp.forward(t);
      EXPECT_FALSE(l.empty()) << interp.error();
      return l;
    });
  };
  reference::Logits base = run(module);
  ASSERT_EQ(base.size(), 32u);

  reference::Interpreter whole(module, load, options);
  double oneCall = worstRelativeL2(whole.forward(seq), base);
  std::printf("  one 32-token call against prompt + decode: %.3g\n", oneCall);
  EXPECT_LT(oneCall, 1e-12) << "decoding through the cache differs from one call";

  for (const Variant &v : variants(layers)) {
    mlir::OwningOpRef<mlir::ModuleOp> copy = module.clone();
    std::string err;
    ASSERT_TRUE(runPasses(*copy, v.build, &err)) << v.name << ": " << err;
    v.checkChanged(*copy);
    double e = worstRelativeL2(run(*copy), base);
    std::printf("  %s against unfused: %.3g\n", v.name, e);
    EXPECT_LT(e, 1e-12) << v.name;
  }
}

struct GPT2Case {
  const char *name;
  io::GPT2Config config;
  ModelPasses passes = {};
  reference::InterpreterOptions options = {};
};

void PrintTo(const GPT2Case &c, std::ostream *os) { *os << c.name; }

class GPT2Variants : public ::testing::TestWithParam<GPT2Case> {};

TEST_P(GPT2Variants, FusedAndSplitEqualUnfused) {
  const GPT2Case &c = GetParam();
  std::string err;
  auto model = ImportedModel::gpt2(c.config, 4321, &err);
  ASSERT_TRUE(model) << err;
  ASSERT_TRUE(runPasses(*model->module, [&](mlir::PassManager &pm) { c.passes.addTo(pm); },
                        &err))
      << err;
  checkVariants(*model->module, model->loader(), c.options,
                int(c.config.nLayer - int64_t(c.passes.drop.size())), c.config.vocab);
  // The QKV projections of GPT-2 (column views of c_attn) became one.
  mlir::OwningOpRef<mlir::ModuleOp> fused = model->module->clone();
  ASSERT_TRUE(runPasses(*fused, [](mlir::PassManager &pm) { mlir::xfmr::buildFusionPipeline(pm); },
                        &err));
  fused->walk([](mlir::xfmr::AttentionOp a) { EXPECT_TRUE(a.isPacked()); });
}

const io::QuantScheme int8{WeightFormat::Int8, 0, true}, int4zp{WeightFormat::Int4, 32, true, true},
    bf16{WeightFormat::BF16};

INSTANTIATE_TEST_SUITE_P(
    GPT2, GPT2Variants,
    ::testing::Values(
        GPT2Case{"f32", smallGPT2()}, GPT2Case{"odd_shapes", oddGPT2()},
        GPT2Case{"pruned_kv_f16", fourLayerGPT2(), {{2}, {}, {}, "f16"}},
        GPT2Case{"int4_zero_point", smallGPT2(), {{}, int4zp}},
        // Rounded inputs and jitter: unfused Q, K and V share one rounded
        // input, as the fused QKV projection does.
        GPT2Case{"int8_dot_jitter_kv_int8", smallGPT2(), {{}, int8, {}, "int8"}, {true, 1e-7}},
        GPT2Case{"bf16_dot_jitter", smallGPT2(), {{}, bf16}, {true, 1e-3}}),
    [](const auto &info) { return std::string(info.param.name); });

struct LlamaCase {
  const char *name;
  HandLlama config;
  ModelPasses passes = {};
  reference::InterpreterOptions options = {};
};

void PrintTo(const LlamaCase &c, std::ostream *os) { *os << c.name; }

class LlamaVariants : public ::testing::TestWithParam<LlamaCase> {};

// RMS norms into the q/k/v and gate/up prologues, the gated MLP into the
// gate projection's epilogue (activation(silu) times(up)), residual adds.
TEST_P(LlamaVariants, FusedAndSplitEqualUnfused) {
  const LlamaCase &c = GetParam();
  mlir::MLIRContext ctx;
  std::string err;
  auto module = parseModule(ctx, llamaModule(c.config), &err);
  ASSERT_TRUE(module) << err;
  ASSERT_TRUE(runPasses(*module, [&](mlir::PassManager &pm) { c.passes.addTo(pm); }, &err))
      << err;
  checkVariants(*module, mapLoader(llamaWeights(c.config, 11)), c.options,
                int(c.config.layers), c.config.vocab);
}

HandLlama mha() { // as many kv heads as heads, no biases
  HandLlama c;
  c.kvHeads = c.heads;
  c.qkvBias = false;
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Llama, LlamaVariants,
    ::testing::Values(LlamaCase{"gqa_qkv_bias", HandLlama{}},
                      LlamaCase{"multi_head_no_bias", mha()},
                      LlamaCase{"int4_dot_jitter_kv_int8", HandLlama{},
                                {{}, {WeightFormat::Int4, 32, true}, {}, "int8"}, {true, 1e-7}},
                      LlamaCase{"int8_keep_lm_head_kv_f16", HandLlama{},
                                {{}, int8, {"lm_head"}, "f16"}, {true, 0}}),
    [](const auto &info) { return std::string(info.param.name); });

// The Llama importer's own IR, on a random checkpoint.
struct ImportedLlamaCase {
  const char *name;
  std::string modelType;
  bool tied;
  ModelPasses passes = {};
  reference::InterpreterOptions options = {};
};

void PrintTo(const ImportedLlamaCase &c, std::ostream *os) { *os << c.name; }

class ImportedLlamaVariants : public ::testing::TestWithParam<ImportedLlamaCase> {};

TEST_P(ImportedLlamaVariants, FusedAndSplitEqualUnfused) {
  const ImportedLlamaCase &c = GetParam();
  io::LlamaConfig ic;
  ic.modelType = c.modelType;
  ic.layers = 2;
  ic.hidden = 64;
  ic.intermediate = 128;
  ic.heads = 4;
  ic.kvHeads = 2;
  ic.headDim = 16;
  ic.context = 40;
  ic.vocab = 96;
  ic.tieEmbeddings = c.tied;
  ic.qkvBias = c.modelType == "qwen2"; // as its config.json will be read
  std::string err;
  auto model = ImportedModel::llama(ic, 17, &err, {io::DType::F32});
  ASSERT_TRUE(model) << err;
  ASSERT_TRUE(runPasses(*model->module, [&](mlir::PassManager &pm) { c.passes.addTo(pm); },
                        &err))
      << err;
  checkVariants(*model->module, model->loader(), c.options,
                int(ic.layers - int64_t(c.passes.drop.size())), ic.vocab);
}

INSTANTIATE_TEST_SUITE_P(
    Importer, ImportedLlamaVariants,
    ::testing::Values(ImportedLlamaCase{"llama", "llama", false},
                      ImportedLlamaCase{"qwen2_tied_int8_dot_kv_int8", "qwen2", true,
                                        {{}, int8, {}, "int8"}, {true, 1e-7}},
                      ImportedLlamaCase{"mistral_int4_g32_dot_keep_lm_head", "mistral", false,
                                        {{}, {WeightFormat::Int4, 32, true}, {"lm_head"}},
                                        {true, 0}},
                      ImportedLlamaCase{"llama_pruned_bf16_dot", "llama", false,
                                        {{0}, bf16}, {true, 0}}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace

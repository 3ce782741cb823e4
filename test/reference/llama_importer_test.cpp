// The Llama-family importer's IR (import/families/LlamaImporter.cpp) on
// random Llama, Qwen2 and Mistral checkpoints computes what the Llama module
// written by hand in llama_model.h computes on the same weights: two
// independent writings of the same function, run by the interpreter.
#include "interpreter_support.h"
#include "llama_model.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace xfmr;
using namespace xfmr::test;

namespace {

struct ImporterCase {
  const char *name;
  std::string modelType;
  HandLlama hand;
  io::RopeScaling scaling = {};
  int64_t slidingWindow = 0;
};

void PrintTo(const ImporterCase &c, std::ostream *os) { *os << c.name; }

io::LlamaConfig importerConfig(const ImporterCase &c) {
  const HandLlama &h = c.hand;
  io::LlamaConfig ic;
  ic.modelType = c.modelType;
  ic.layers = h.layers;
  ic.hidden = h.hidden;
  ic.intermediate = h.ffn;
  ic.heads = h.heads;
  ic.kvHeads = h.kvHeads;
  ic.headDim = h.headDim;
  ic.context = h.context;
  ic.vocab = h.vocab;
  ic.rmsEpsilon = h.epsilon;
  ic.ropeTheta = h.theta;
  ic.ropeScaling = c.scaling;
  ic.tieEmbeddings = h.tied;
  ic.qkvBias = h.qkvBias;
  ic.outputBias = h.outputBias;
  ic.slidingWindow = c.slidingWindow;
  return ic;
}

/// The importer's #xfmr.rope_scaling, set on the hand-written rotaries.
void setScaling(mlir::ModuleOp m, const io::RopeScaling &r) {
  if (r.kind == io::RopeScaling::Kind::None)
    return;
  auto attr = mlir::xfmr::RopeScalingAttr::get(
      m.getContext(), r.kind == io::RopeScaling::Kind::Linear ? "linear" : "llama3",
      llvm::APFloat(r.factor), llvm::APFloat(r.lowFreqFactor), llvm::APFloat(r.highFreqFactor),
      r.originalContext);
  m.walk([&](mlir::xfmr::RotaryOp op) { op.setScalingAttr(attr); });
}

class LlamaImporter : public ::testing::TestWithParam<ImporterCase> {};

TEST_P(LlamaImporter, SameLogitsAsTheHandWrittenModule) {
  const ImporterCase &c = GetParam();
  std::string err;
  auto model = ImportedModel::llama(importerConfig(c), 21, &err, {io::DType::F32});
  ASSERT_TRUE(model) << err;
  mlir::MLIRContext ctx;
  auto hand = parseModule(ctx, llamaModule(c.hand), &err);
  ASSERT_TRUE(hand) << err;
  setScaling(*hand, c.scaling);

  reference::Interpreter imported(*model->module, model->loader());
  ASSERT_TRUE(imported.ok()) << imported.error();
  reference::Interpreter written(*hand, model->loader());
  ASSERT_TRUE(written.ok()) << written.error();
  std::vector<int32_t> seq = randomTokens(24, c.hand.vocab, 3);
  auto run = [&](reference::Interpreter &interp) {
    return promptThenDecode(seq, [&](const std::vector<int32_t> &t) {
      reference::Logits l = interp.forward(t);
      EXPECT_FALSE(l.empty()) << interp.error();
      return l;
    });
  };
  reference::Logits a = run(imported), b = run(written);
  ASSERT_EQ(a.size(), seq.size());
  double e = worstRelativeL2(a, b);
  std::printf("  importer against the hand-written module: %.3g\n", e);
  EXPECT_LT(e, 1e-13);
  if (c.scaling.kind != io::RopeScaling::Kind::None) {
    // Not vacuous: without the scaling the same weights give other logits.
    auto unscaled = parseModule(ctx, llamaModule(c.hand), &err);
    reference::Interpreter plain(*unscaled, model->loader());
    EXPECT_GT(worstRelativeL2(run(plain), a), 1e-6) << "rope scaling changed nothing";
  }
}

HandLlama tinyLlama(bool qkvBias, bool outputBias, bool tied) {
  HandLlama h;
  h.qkvBias = qkvBias;
  h.outputBias = outputBias;
  h.tied = tied;
  h.epsilon = 1e-6;
  h.theta = 500000;
  return h;
}

// With theta 100 and head_dim 8 the wavelengths are 6.3, 19.9, 62.8 and 199
// positions; original_context 32 (bands at 32 / 4 and 32 / 1) keeps the
// first, blends the second and divides the others: all three cases.
HandLlama llama3Shape() {
  HandLlama h = tinyLlama(true, true, false);
  h.theta = 100;
  return h;
}

io::RopeScaling llama3Scaling() {
  io::RopeScaling r;
  r.kind = io::RopeScaling::Kind::Llama3;
  r.factor = 8;
  r.originalContext = 32;
  return r;
}

io::RopeScaling linearScaling() {
  io::RopeScaling r;
  r.kind = io::RopeScaling::Kind::Linear;
  r.factor = 2;
  return r;
}

INSTANTIATE_TEST_SUITE_P(
    Families, LlamaImporter,
    ::testing::Values(
        ImporterCase{"llama_gqa", "llama", tinyLlama(false, false, false)},
        ImporterCase{"llama_attention_bias_llama3_scaling", "llama", llama3Shape(),
                     llama3Scaling()},
        ImporterCase{"qwen2_tied", "qwen2", tinyLlama(true, false, true)},
        // A window as long as the compiled context changes nothing.
        ImporterCase{"mistral_window_linear_scaling", "mistral", tinyLlama(false, false, false),
                     linearScaling(), 32}),
    [](const auto &info) { return std::string(info.param.name); });

} // namespace

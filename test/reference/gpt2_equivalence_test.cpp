// The interpreter against the old oracle: on random GPT-2s, the IR the
// importer writes (after the model-level passes the case names) must compute
// what ReferenceGPT2 computes with the matching ReferenceOptions, to float64
// rounding, over a 16-token prompt and 16 decode steps.
#include "interpreter_support.h"
#include "reference_gpt2.h"

#include <gtest/gtest.h>

#include <cstdio>

using namespace xfmr;
using namespace xfmr::test;
using io::WeightFormat;

namespace {

struct Case {
  const char *name;
  io::GPT2Config config;
  ModelPasses passes = {};
  bool dot = false; // dotInputRounding / int8Activations
  double jitter = 0;
  io::RandomModelFormat format = {};
  /// Run xfmr-assign-schedules{vnni bf16-dot} after the model passes, so
  /// each op's `dot` says where its input is rounded (the compiler's choice
  /// per shape).
  bool schedules = false;
};

void PrintTo(const Case &c, std::ostream *os) { *os << c.name; }

void modelPasses(const Case &c, mlir::PassManager &pm) {
  c.passes.addTo(pm);
  if (c.schedules) {
    mlir::xfmr::XfmrAssignSchedulesPassOptions o;
    o.vnni = true;
    o.bf16Dot = true;
    pm.addPass(mlir::xfmr::createXfmrAssignSchedulesPass(o));
  }
}

class AgainstReferenceGPT2 : public ::testing::TestWithParam<Case> {};

TEST_P(AgainstReferenceGPT2, SameLogitsPromptAndDecode) {
  const Case &c = GetParam();
  std::string err;
  auto model = ImportedModel::gpt2(c.config, 1234, &err, c.format);
  ASSERT_TRUE(model) << err;
  ASSERT_TRUE(runPasses(*model->module, [&](mlir::PassManager &pm) { modelPasses(c, pm); },
                        &err))
      << err;
  reference::Interpreter interp(*model->module, model->loader(), {c.dot, c.jitter});
  ASSERT_TRUE(interp.ok()) << interp.error();
  reference::ReferenceGPT2 ref(model->gpt2Files(), c.passes.referenceOptions(c.dot, c.jitter));

  std::vector<int32_t> seq = randomTokens(32, c.config.vocab, 99);
  reference::Logits got = promptThenDecode(seq, [&](const std::vector<int32_t> &t) {
    reference::Logits l = interp.forward(t);
    EXPECT_FALSE(l.empty()) << interp.error();
    return l;
  });
  reference::Logits want =
      promptThenDecode(seq, [&](const std::vector<int32_t> &t) { return ref.forward(t); });
  ASSERT_EQ(got.size(), 32u);
  double worst = worstRelativeL2(got, want);
  std::printf("  worst relative L2 against ReferenceGPT2 over 32 positions: %.3g\n", worst);
  EXPECT_LT(worst, 1e-12);
  EXPECT_EQ(interp.position(), 32);

  if (c.dot && !c.schedules) {
    // Not vacuous: the rounding moved the logits, and both oracles moved
    // them the same way.
    reference::Interpreter unrounded(*model->module, model->loader(), {});
    reference::Logits u = promptThenDecode(
        seq, [&](const std::vector<int32_t> &t) { return unrounded.forward(t); });
    EXPECT_GT(worstRelativeL2(u, want), 1e-6) << "dot rounding changed nothing";
  }
}

io::RandomModelFormat halfPrefixed{io::DType::F16, "transformer.", true};
const io::QuantScheme bf16{WeightFormat::BF16}, int8{WeightFormat::Int8, 0, true},
    int4{WeightFormat::Int4, 32, true};
const std::vector<std::string> oddKeep{"attn.", "c_fc", "lm_head", "embedding"};

INSTANTIATE_TEST_SUITE_P(
    Plain, AgainstReferenceGPT2,
    ::testing::Values(Case{"small", smallGPT2()}, Case{"odd_shapes", oddGPT2()},
                      Case{"f16_prefixed_with_buffers", smallGPT2(), {}, false, 0, halfPrefixed},
                      Case{"pruned_blocks_1_and_2", fourLayerGPT2(), {{1, 2}}},
                      Case{"pruned_block_0", fourLayerGPT2(), {{0}}}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    QuantizedWeights, AgainstReferenceGPT2,
    ::testing::Values(
        Case{"bf16", smallGPT2(), {{}, bf16}}, Case{"int8", smallGPT2(), {{}, int8}},
        Case{"int8_f32_scales_keep_lm_head", smallGPT2(),
             {{}, {WeightFormat::Int8, 0, false}, {"lm_head"}}},
        Case{"int4_g32", smallGPT2(), {{}, int4}},
        Case{"int4_g64_zero_point_keep_embedding", smallGPT2(),
             {{}, {WeightFormat::Int4, 64, true, true}, {"embedding"}}},
        Case{"int4_odd_shapes_rest_kept_f32", oddGPT2(), {{}, int4, oddKeep}}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    KVCache, AgainstReferenceGPT2,
    ::testing::Values(Case{"kv_f16", smallGPT2(), {{}, {}, {}, "f16"}},
                      Case{"kv_int8", smallGPT2(), {{}, {}, {}, "int8"}},
                      Case{"int8_weights_kv_int8", smallGPT2(), {{}, int8, {}, "int8"}}),
    [](const auto &info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    DotInputRounding, AgainstReferenceGPT2,
    ::testing::Values(
        Case{"int8", smallGPT2(), {{}, int8}, true},
        Case{"int4_g32", smallGPT2(), {{}, int4}, true},
        // int4 rows in groups of 64: the LM head has no dot kernel, only
        // the linears round.
        Case{"int4_g64_zero_point", smallGPT2(), {{}, {WeightFormat::Int4, 64, true, true}},
             true},
        Case{"bf16", smallGPT2(), {{}, bf16}, true},
        Case{"int8_keep_lm_head_and_c_proj", smallGPT2(), {{}, int8, {"lm_head", "c_proj"}},
             true},
        Case{"int8_jitter", smallGPT2(), {{}, int8}, true, 1e-7},
        Case{"int4_g32_jitter", smallGPT2(), {{}, int4}, true, 1e-7},
        Case{"bf16_jitter", smallGPT2(), {{}, bf16}, true, 1e-3},
        Case{"pruned_int8_kv_int8_jitter", fourLayerGPT2(), {{1}, int8, {}, "int8"}, true,
             1e-7},
        // After xfmr-assign-schedules the schedules decide, as in the
        // compiled model; on these widths no linear multiplies with dot
        // products, and the old reference rounds nothing either.
        Case{"int4_odd_shapes_with_schedules", oddGPT2(), {{}, int4, oddKeep}, true, 0, {},
             true},
        Case{"int8_with_schedules", smallGPT2(), {{}, int8}, true, 1e-7, {}, true}),
    [](const auto &info) { return std::string(info.param.name); });

// Without schedules the interpreter rounds wherever the scheme's blocks fit
// (the MLP down projection of the odd model, K = 96); after
// xfmr-assign-schedules the ops' `dot` decides, and the compiler gives that
// projection (24 columns) no dot kernel.
TEST(DotRounding, SchedulesDecideWhereInputsRound) {
  Case c{"odd", oddGPT2(), {{}, int4, oddKeep}, true};
  std::string err;
  auto model = ImportedModel::gpt2(c.config, 1234, &err);
  ASSERT_TRUE(model) << err;
  ASSERT_TRUE(runPasses(*model->module, [&](mlir::PassManager &pm) { modelPasses(c, pm); },
                        &err))
      << err;
  std::vector<int32_t> seq = randomTokens(8, c.config.vocab, 5);
  reference::ReferenceGPT2 ref(model->gpt2Files(), c.passes.referenceOptions(true, 0));
  reference::Logits want = ref.forward(seq);
  reference::Interpreter byScheme(*model->module, model->loader(), {true});
  EXPECT_GT(worstRelativeL2(byScheme.forward(seq), want), 1e-6);
  mlir::xfmr::XfmrAssignSchedulesPassOptions o;
  o.vnni = true;
  ASSERT_TRUE(runPasses(
      *model->module,
      [&](mlir::PassManager &pm) { pm.addPass(mlir::xfmr::createXfmrAssignSchedulesPass(o)); },
      &err))
      << err;
  reference::Interpreter bySchedule(*model->module, model->loader(), {true});
  EXPECT_LT(worstRelativeL2(bySchedule.forward(seq), want), 1e-12);
}

} // namespace

// Bad input to the interpreter is an error that says what and where, never
// a crash: modules it cannot run, weights the loader lacks or that do not fit
// their views, tokens and positions outside what the model holds.
#include "interpreter_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace xfmr;
using namespace xfmr::test;

namespace {

const char *kHeader = "!cache = !xfmr.kv_cache<layers = 1, heads = 1, context = 4, "
                      "head_dim = 4, f32>\n";

/// @forward around `body`, which defines %out : tensor<?x4xf32> from the
/// embedding %x of the 6 x 4 table "emb".
std::string module(const std::string &body, const std::string &extra = "") {
  return std::string(kHeader) + R"(
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> tensor<?x4xf32> {
  %e = xfmr.weight "emb" : tensor<6x4xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<6x4xf32> -> tensor<?x4xf32>
)" + body + R"(
  return %out : tensor<?x4xf32>
}
)" + extra;
}

TensorMap weights() {
  std::mt19937 rng(1);
  return {{"emb", randomTensor({6, 4}, rng)}, {"w", randomTensor({4, 4}, rng)},
          {"wide", randomTensor({4, 8}, rng)}};
}

struct Parsed {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  explicit Parsed(const std::string &text, bool unregistered = false) {
    ctx.allowUnregisteredDialects(unregistered);
    std::string err;
    module = parseModule(ctx, text, &err);
    EXPECT_TRUE(module) << err;
  }
};

/// Construction fails with an error holding `expected`.
void expectRefused(mlir::ModuleOp m, const TensorMap &w, const std::string &expected) {
  reference::Interpreter interp(m, mapLoader(w));
  EXPECT_FALSE(interp.ok());
  EXPECT_NE(interp.error().find(expected), std::string::npos) << interp.error();
  std::printf("  %s\n", interp.error().c_str());
  // And stays a refusal, not a crash.
  EXPECT_TRUE(interp.forward({1}).empty());
  EXPECT_NE(interp.error().find(expected), std::string::npos) << interp.error();
}

TEST(BadInput, UnknownOp) {
  Parsed p(module(R"(  %out = "test.mystery"(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32>)"),
           /*unregistered=*/true);
  expectRefused(*p.module, weights(),
                "unknown op 'test.mystery': the reference interpreter has no handler");
}

TEST(BadInput, DispatchListIsRefused) {
  Parsed p(module(R"(  %out = xfmr.dispatch @xk_gelu_0(%x) : (tensor<?x4xf32>) -> tensor<?x4xf32>)",
                  R"(
func.func private @xk_gelu_0(%x: tensor<?x4xf32>) -> tensor<?x4xf32> attributes {xfmr.kernel} {
  %y = xfmr.gelu %x : tensor<?x4xf32>
  return %y : tensor<?x4xf32>
})"));
  expectRefused(*p.module, weights(), "before xfmr-outline-kernels");
}

TEST(BadInput, WeightTheLoaderLacks) {
  Parsed p(module(R"(  %w = xfmr.weight "nope" : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(), "weight 'nope' is not in the model file");
}

TEST(BadInput, ColumnViewOutsideTheStoredTensor) {
  Parsed p(module(R"(  %w = xfmr.weight "wide" columns from 6 : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(),
                "the view 4x4 columns from 6 does not fit the stored tensor 'wide' of shape 4x8");
}

TEST(BadInput, HugeColumnOffset) { // no overflow in the range check
  Parsed p(module(R"(  %w = xfmr.weight "wide" columns from 9223372036854775807 : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(), "does not fit the stored tensor 'wide'");
}

TEST(BadInput, StoredShapeDiffersFromTheType) {
  Parsed p(module(R"(  %w = xfmr.weight "wide" : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(), "the view 4x4 does not fit the stored tensor 'wide'");
}

TEST(BadInput, TransposedViewOfTheWrongShape) {
  Parsed p(module(R"(  %w = xfmr.weight "wide" transposed : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(), "the view 4x4 transposed does not fit");
}

// `columns from N transposed` takes stored rows [N, N + cols): "w" has 4.
TEST(BadInput, TransposedColumnsPastTheStoredRows) {
  Parsed p(module(R"(  %w = xfmr.weight "w" columns from 2 transposed : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(),
                "the view 4x4 columns from 2 transposed does not fit the stored tensor 'w' "
                "of shape 4x4");
}

TEST(BadInput, LoaderGivesTheWrongNumberOfValues) {
  Parsed p(module(R"(  %w = xfmr.weight "w" : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  TensorMap w = weights();
  w["w"].data.pop_back();
  expectRefused(*p.module, w, "the loader gave 'w' 15 values for shape 4x4");
}

TEST(BadInput, NonFiniteWeight) {
  Parsed p(module(R"(  %w = xfmr.weight "w" : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  TensorMap w = weights();
  w["w"].data[5] = NAN;
  expectRefused(*p.module, w, "weight 'w' holds a non-finite value at element 5");
}

TEST(BadInput, QuantizedWeightReadAsPlainNumbers) {
  // A quantized table as learned positions: nothing says along which
  // dimension it dequantizes.
  Parsed p(module(R"(  %q = xfmr.weight "w" : tensor<4x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>>
  %out = xfmr.embedding %tokens, %e, %q at %pos : tensor<?xi32>, tensor<6x4xf32>, tensor<4x4xi8, #xfmr.quant<bits = 8, group = 0, scale = f32>> -> tensor<?x4xf32>)"));
  expectRefused(*p.module, weights(), "but 'xfmr.embedding' reads it as plain numbers");
}

TEST(BadInput, NoForwardFunction) {
  Parsed p("func.func @other() { return }");
  expectRefused(*p.module, weights(), "no func.func @forward");
}

TEST(BadInput, WrongSignature) {
  Parsed p(R"(func.func @forward(%tokens: tensor<?xi32>, %pos: index) -> tensor<?x4xf32> {
  %e = xfmr.weight "emb" : tensor<6x4xf32>
  %x = xfmr.embedding %tokens, %e at %pos : tensor<?xi32>, tensor<6x4xf32> -> tensor<?x4xf32>
  return %x : tensor<?x4xf32>
})");
  expectRefused(*p.module, weights(), "@forward must be (tensor<?xi32>, index, !xfmr.kv_cache");
}

TEST(BadInput, ModuleThatDoesNotVerify) {
  Parsed p(module(R"(  %w = xfmr.weight "w" : tensor<4x4xf32>
  %out = xfmr.linear %x, %w : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  // What a buggy pass could leave behind.
  p.module->walk([&](mlir::xfmr::LinearOp l) {
    l->setAttr("norm_epsilon", mlir::FloatAttr::get(mlir::Float64Type::get(&p.ctx), 1e-5));
  });
  expectRefused(*p.module, weights(), "norm_epsilon without a fused norm");
}

TEST(BadInput, WeightWhereAnActivationIsExpected) {
  Parsed p(module(R"(  %w = xfmr.weight "w" : tensor<4x4xf32>
  %out = xfmr.linear %w, %w : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  reference::Interpreter interp(*p.module, mapLoader(weights()));
  ASSERT_TRUE(interp.ok()) << interp.error();
  EXPECT_TRUE(interp.forward({1}).empty());
  EXPECT_NE(interp.error().find("is not an activation"), std::string::npos) << interp.error();
}

// Forward-time errors leave the interpreter usable: the position does not
// move and the next good call computes what a fresh interpreter does.
TEST(BadInput, TokenOutsideTheVocabulary) {
  Parsed p(module("  %out = xfmr.gelu %x : tensor<?x4xf32>"));
  reference::Interpreter interp(*p.module, mapLoader(weights()));
  ASSERT_TRUE(interp.ok()) << interp.error();
  for (int32_t bad : {6, -1}) {
    EXPECT_TRUE(interp.forward({1, bad}).empty());
    EXPECT_NE(interp.error().find("token " + std::to_string(bad) +
                                  " (row 1) is outside the vocabulary of 6"),
              std::string::npos)
        << interp.error();
    EXPECT_EQ(interp.position(), 0);
  }
  reference::Interpreter fresh(*p.module, mapLoader(weights()));
  EXPECT_EQ(interp.forward({1, 2}), fresh.forward({1, 2}));
  EXPECT_TRUE(interp.error().empty()) << interp.error();
}

TEST(BadInput, PositionsPastTheContext) {
  Parsed p(module(R"(  %out = xfmr.attention(%x, %x, %x), %cache at %pos {layer = 0 : i64, num_heads = 1 : i64} : (tensor<?x4xf32>, tensor<?x4xf32>, tensor<?x4xf32>), !cache -> tensor<?x4xf32>)"));
  reference::Interpreter interp(*p.module, mapLoader(weights()));
  ASSERT_TRUE(interp.ok()) << interp.error();
  EXPECT_EQ(interp.contextLength(), 4);
  EXPECT_EQ(interp.forward({1, 2, 3}).size(), 3u);
  EXPECT_TRUE(interp.forward({4, 5}).empty());
  EXPECT_NE(interp.error().find("positions 3..4 do not fit the cache's context of 4"),
            std::string::npos)
      << interp.error();
  EXPECT_EQ(interp.position(), 3);
  EXPECT_EQ(interp.forward({4}).size(), 1u) << interp.error();
}

TEST(BadInput, PositionsPastTheLearnedTable) {
  Parsed p(module(R"(  %wpe = xfmr.weight "w" : tensor<4x4xf32>
  %out = xfmr.embedding %tokens, %e, %wpe at %pos : tensor<?xi32>, tensor<6x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>)"));
  reference::Interpreter interp(*p.module, mapLoader(weights()));
  ASSERT_TRUE(interp.ok()) << interp.error();
  EXPECT_TRUE(interp.forward({1, 2, 3, 4, 5}).empty());
  EXPECT_NE(interp.error().find("position 4 is past the 4 learned positions"),
            std::string::npos)
      << interp.error();
}

} // namespace

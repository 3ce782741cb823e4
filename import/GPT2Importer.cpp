//===- GPT2Importer.cpp - Hugging Face GPT-2 -> xfmr dialect ---------------===//
#include "GPT2Importer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "xfmr/IR/XfmrDialect.h"

using namespace mlir;
using namespace mlir::xfmr;

OwningOpRef<ModuleOp> mlir::xfmr::importGPT2(MLIRContext *ctx,
                                       const ::xfmr::io::GPT2Files &files) {
  ctx->loadDialect<XfmrDialect, func::FuncDialect>();
  const auto &c = files.config();
  const int64_t E = c.nEmbd, V = c.vocab, C = c.nCtx, H = c.nHead;
  Location loc = UnknownLoc::get(ctx);
  OpBuilder b(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  auto i64 = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  module->getOperation()->setAttr(
      "xfmr.model",
      b.getDictionaryAttr({b.getNamedAttr("n_layer", i64(c.nLayer)),
                           b.getNamedAttr("n_embd", i64(E)),
                           b.getNamedAttr("n_head", i64(H)),
                           b.getNamedAttr("n_ctx", i64(C)),
                           b.getNamedAttr("vocab", i64(V)),
                           b.getNamedAttr("eos_token", i64(c.eosToken))}));
  module->getOperation()->setAttr("xfmr.architecture", b.getStringAttr("gpt2"));

  Type f32 = b.getF32Type();
  int64_t dyn = ShapedType::kDynamic;
  auto act = [&](int64_t d) { return RankedTensorType::get({dyn, d}, f32); };
  auto tokensType = RankedTensorType::get({dyn}, b.getI32Type());
  auto cacheType = KVCacheType::get(ctx, c.nLayer, H, C, E / H, f32);
  b.setInsertionPointToEnd(module->getBody());
  auto fn = b.create<func::FuncOp>(
      loc, "forward",
      b.getFunctionType({tokensType, b.getIndexType(), cacheType}, {act(V)}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value tokens = entry->getArgument(0), pos = entry->getArgument(1),
        cache = entry->getArgument(2);

  auto weight = [&](const std::string &name, ArrayRef<int64_t> shape,
                    int64_t colOffset = -1) -> Value {
    auto op = b.create<WeightOp>(loc, RankedTensorType::get(shape, f32),
                                 b.getStringAttr(files.fileName(name)), IntegerAttr(), UnitAttr());
    if (colOffset >= 0)
      op.setColumnOffsetAttr(i64(colOffset));
    return op;
  };
  auto eps = b.getF64FloatAttr(c.epsilon);
  auto layerNorm = [&](Value x, const std::string &prefix) -> Value {
    return b.create<LayerNormOp>(loc, act(E), x, weight(prefix + ".weight", {E}),
                                 weight(prefix + ".bias", {E}), eps,
                                 ScheduleAttr());
  };
  auto linear = [&](Value x, Value w, Value bias, int64_t n) -> Value {
    return b.create<LinearOp>(loc, act(n), x, w, bias);
  };

  Value wte = weight("wte.weight", {V, E});
  Value h = b.create<EmbeddingOp>(loc, act(E), tokens, wte,
                                  weight("wpe.weight", {C, E}), pos,
                                  ScheduleAttr());
  for (int64_t l = 0; l < c.nLayer; ++l) {
    std::string p = "h." + std::to_string(l) + ".";
    Value x = layerNorm(h, p + "ln_1");
    std::string w = p + "attn.c_attn.weight", bias = p + "attn.c_attn.bias";
    Value q = linear(x, weight(w, {E, E}, 0), weight(bias, {E}, 0), E);
    Value k = linear(x, weight(w, {E, E}, E), weight(bias, {E}, E), E);
    Value v = linear(x, weight(w, {E, E}, 2 * E), weight(bias, {E}, 2 * E), E);
    Value a = b.create<AttentionOp>(loc, act(E), ValueRange{q, k, v}, cache, pos, i64(l),
                                    i64(H), FloatAttr(), ScheduleAttr());
    Value proj = linear(a, weight(p + "attn.c_proj.weight", {E, E}),
                        weight(p + "attn.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, proj, h, ScheduleAttr());
    Value x2 = layerNorm(h, p + "ln_2");
    Value fc = linear(x2, weight(p + "mlp.c_fc.weight", {E, 4 * E}),
                      weight(p + "mlp.c_fc.bias", {4 * E}), 4 * E);
    Value g = b.create<GeluOp>(loc, fc, ScheduleAttr());
    Value down = linear(g, weight(p + "mlp.c_proj.weight", {4 * E, E}),
                        weight(p + "mlp.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, down, h, ScheduleAttr());
  }
  Value xf = layerNorm(h, "ln_f");
  Value logits = b.create<LMHeadOp>(loc, act(V), xf, wte, ScheduleAttr());
  b.create<func::ReturnOp>(loc, logits);
  return module;
}

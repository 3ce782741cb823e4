//===- GPT2Importer.cpp - Hugging Face GPT-2 -> xfmr dialect ---------------===//
#include "ForwardBuilder.h"
#include "xfmr/import/Importer.h"
#include "xfmr/import/gpt2.h"

using namespace mlir;
using namespace mlir::xfmr;

OwningOpRef<ModuleOp> mlir::xfmr::importGPT2(MLIRContext *ctx,
                                             const ::xfmr::io::GPT2Model &files,
                                             int64_t context) {
  const auto &c = files.config();
  const int64_t E = c.nEmbd, V = c.vocab, C = c.nCtx, H = c.nHead;
  ctx->loadDialect<XfmrDialect>();
  auto cacheType = KVCacheType::get(ctx, c.nLayer, H, context, E / H, Float32Type::get(ctx));
  ForwardBuilder f(ctx, files, "gpt2",
                   {{"n_layer", c.nLayer},
                    {"n_embd", E},
                    {"n_head", H},
                    {"n_ctx", context},
                    {"vocab", V},
                    {"eos_token", c.eosToken}},
                   cacheType, V);
  OpBuilder &b = f.b;
  Location loc = f.loc;
  auto eps = b.getF64FloatAttr(c.epsilon);
  auto layerNorm = [&](Value x, const std::string &prefix) -> Value {
    return b.create<LayerNormOp>(loc, f.act(E), x, f.weight(prefix + ".weight", {E}),
                                 f.weight(prefix + ".bias", {E}), eps, ScheduleAttr());
  };
  auto linear = [&](Value x, Value w, Value bias, int64_t n) -> Value {
    return b.create<LinearOp>(loc, f.act(n), x, w, bias);
  };

  Value wte = f.weight("wte.weight", {V, E});
  Value h = b.create<EmbeddingOp>(loc, f.act(E), f.tokens, wte,
                                  f.weight("wpe.weight", {C, E}), f.pos, ScheduleAttr());
  for (int64_t l = 0; l < c.nLayer; ++l) {
    std::string p = "h." + std::to_string(l) + ".";
    Value x = layerNorm(h, p + "ln_1");
    // Conv1D stores c_attn as [E, 3E]: Q, K and V side by side.
    std::string w = p + "attn.c_attn.weight", bias = p + "attn.c_attn.bias";
    Value q = linear(x, f.weight(w, {E, E}, 0), f.weight(bias, {E}, 0), E);
    Value k = linear(x, f.weight(w, {E, E}, E), f.weight(bias, {E}, E), E);
    Value v = linear(x, f.weight(w, {E, E}, 2 * E), f.weight(bias, {E}, 2 * E), E);
    Value a = b.create<AttentionOp>(loc, f.act(E), ValueRange{q, k, v}, f.cache, f.pos,
                                    f.i64(l), f.i64(H), FloatAttr(), FloatAttr(),
                                    RopeScalingAttr(), ScheduleAttr());
    Value proj = linear(a, f.weight(p + "attn.c_proj.weight", {E, E}),
                        f.weight(p + "attn.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, proj, h, ScheduleAttr());
    Value x2 = layerNorm(h, p + "ln_2");
    Value fc = linear(x2, f.weight(p + "mlp.c_fc.weight", {E, 4 * E}),
                      f.weight(p + "mlp.c_fc.bias", {4 * E}), 4 * E);
    Value g = b.create<GeluOp>(loc, fc, ScheduleAttr());
    Value down = linear(g, f.weight(p + "mlp.c_proj.weight", {4 * E, E}),
                        f.weight(p + "mlp.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, down, h, ScheduleAttr());
  }
  Value xf = layerNorm(h, "ln_f");
  return f.finish(b.create<LMHeadOp>(loc, f.act(V), xf, wte, ScheduleAttr()));
}

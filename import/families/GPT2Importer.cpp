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
  // A linear's weight as [in, out]: Conv1D stores it so; GGUF as [out, in],
  // read transposed, so that blocks quantized along its stored rows (the
  // reduction) are read as they are. `offset`: the first of its `out`
  // columns (stored [out, in]: its rows) in a fused tensor.
  const bool outIn = files.layout().linearsOutIn;
  auto weight = [&](const std::string &name, int64_t in, int64_t out, int64_t offset = -1) {
    return f.weight(name, {in, out}, offset, outIn);
  };

  Value wte = f.weight("wte.weight", {V, E});
  Value h = b.create<EmbeddingOp>(loc, f.act(E), f.tokens, wte,
                                  f.weight("wpe.weight", {C, E}), f.pos, ScheduleAttr());
  for (int64_t l = 0; l < c.nLayer; ++l) {
    std::string p = "h." + std::to_string(l) + ".";
    Value x = layerNorm(h, p + "ln_1");
    // Conv1D stores c_attn as [E, 3E]: Q, K and V side by side (GGUF: one
    // above the other, [3E, E]).
    std::string w = p + "attn.c_attn.weight", bias = p + "attn.c_attn.bias";
    Value q = linear(x, weight(w, E, E, 0), f.weight(bias, {E}, 0), E);
    Value k = linear(x, weight(w, E, E, E), f.weight(bias, {E}, E), E);
    Value v = linear(x, weight(w, E, E, 2 * E), f.weight(bias, {E}, 2 * E), E);
    Value a = b.create<AttentionOp>(loc, f.act(E), ValueRange{q, k, v}, f.cache, f.pos,
                                    f.i64(l), f.i64(H), FloatAttr(), FloatAttr(),
                                    RopeScalingAttr(), ScheduleAttr());
    Value proj = linear(a, weight(p + "attn.c_proj.weight", E, E),
                        f.weight(p + "attn.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, proj, h, ScheduleAttr());
    Value x2 = layerNorm(h, p + "ln_2");
    Value fc = linear(x2, weight(p + "mlp.c_fc.weight", E, 4 * E),
                      f.weight(p + "mlp.c_fc.bias", {4 * E}), 4 * E);
    Value g = b.create<GeluOp>(loc, fc, ScheduleAttr());
    Value down = linear(g, weight(p + "mlp.c_proj.weight", 4 * E, E),
                        f.weight(p + "mlp.c_proj.bias", {E}), E);
    h = b.create<AddOp>(loc, down, h, ScheduleAttr());
  }
  Value xf = layerNorm(h, "ln_f");
  // A GGUF's output.weight [V, E]: an nn.Linear's [out, in], read as
  // Llama's untied head is (LlamaImporter.cpp).
  if (files.layout().untiedHead)
    return f.finish(linear(xf, f.weight("lm_head.weight", {E, V}, -1, /*transposed=*/true),
                           Value(), V));
  return f.finish(b.create<LMHeadOp>(loc, f.act(V), xf, wte, ScheduleAttr()));
}

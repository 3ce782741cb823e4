//===- LlamaImporter.cpp - Llama / Mistral / Qwen2 -> xfmr dialect ----------===//
//
// One block: x = rms_norm(h); q, k, v = x W (+ b); rotary(q), rotary(k);
// attention over the cache (grouped-query: the cache has kv_heads heads);
// h += o_proj; x = rms_norm(h); h += down(silu(gate(x)) * up(x)). Weights
// are nn.Linear's [out, in], viewed transposed as the [in, out] the linear
// op takes (the compiled model stores each view in its kernel's layout, so
// the view costs nothing at run time).
//
//===----------------------------------------------------------------------===//
#include "ForwardBuilder.h"
#include "xfmr/import/Importer.h"
#include "xfmr/import/llama.h"

using namespace mlir;
using namespace mlir::xfmr;

OwningOpRef<ModuleOp> mlir::xfmr::importLlama(MLIRContext *ctx,
                                              const ::xfmr::io::LlamaModel &files,
                                              int64_t context) {
  const ::xfmr::io::LlamaConfig &c = files.config();
  const int64_t E = c.hidden, V = c.vocab, H = c.heads, KVH = c.kvHeads, D = c.headDim,
                I = c.intermediate, Q = H * D, KV = KVH * D;
  ctx->loadDialect<XfmrDialect>();
  auto cacheType = KVCacheType::get(ctx, c.layers, KVH, context, D, Float32Type::get(ctx));
  ForwardBuilder f(ctx, files, c.modelType,
                   {{"n_layer", c.layers},
                    {"n_embd", E},
                    {"n_head", H},
                    {"n_kv_head", KVH},
                    {"head_dim", D},
                    {"n_ctx", context},
                    {"vocab", V},
                    {"bos_token", c.bos},
                    {"eos_token", c.eos}},
                   cacheType, V);
  OpBuilder &b = f.b;
  Location loc = f.loc;
  auto eps = b.getF64FloatAttr(c.rmsEpsilon);
  auto rmsNorm = [&](Value x, const std::string &gamma) -> Value {
    return b.create<RMSNormOp>(loc, f.act(E), x, f.weight(gamma, {E}), eps, ScheduleAttr());
  };
  // nn.Linear(in, out): weight [out, in] (+ bias [out]).
  auto linear = [&](Value x, const std::string &name, int64_t in, int64_t out,
                    bool bias) -> Value {
    Value w = f.weight(name + ".weight", {in, out}, -1, /*transposed=*/true);
    return b.create<LinearOp>(loc, f.act(out), x, w,
                              bias ? f.weight(name + ".bias", {out}) : Value());
  };
  RopeScalingAttr scaling;
  const ::xfmr::io::RopeScaling &r = c.ropeScaling;
  if (r.kind != ::xfmr::io::RopeScaling::Kind::None)
    scaling = RopeScalingAttr::get(
        ctx, r.kind == ::xfmr::io::RopeScaling::Kind::Linear ? "linear" : "llama3",
        llvm::APFloat(r.factor), llvm::APFloat(r.lowFreqFactor),
        llvm::APFloat(r.highFreqFactor), r.originalContext);
  auto rotary = [&](Value x, int64_t width) -> Value {
    return b.create<RotaryOp>(loc, f.act(width), x, f.pos, f.i64(D),
                              b.getF64FloatAttr(c.ropeTheta), scaling, ScheduleAttr());
  };

  Value table = f.weight("model.embed_tokens.weight", {V, E});
  Value h = b.create<EmbeddingOp>(loc, f.act(E), f.tokens, table, Value(), f.pos,
                                  ScheduleAttr());
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    Value x = rmsNorm(h, p + "input_layernorm.weight");
    Value q = rotary(linear(x, p + "self_attn.q_proj", E, Q, c.qkvBias), Q);
    Value k = rotary(linear(x, p + "self_attn.k_proj", E, KV, c.qkvBias), KV);
    Value v = linear(x, p + "self_attn.v_proj", E, KV, c.qkvBias);
    Value a = b.create<AttentionOp>(loc, f.act(Q), ValueRange{q, k, v}, f.cache, f.pos,
                                    f.i64(l), f.i64(H), FloatAttr(), FloatAttr(),
                                    RopeScalingAttr(), ScheduleAttr());
    Value o = linear(a, p + "self_attn.o_proj", Q, E, c.outputBias);
    h = b.create<AddOp>(loc, o, h, ScheduleAttr());
    Value x2 = rmsNorm(h, p + "post_attention_layernorm.weight");
    Value gate = linear(x2, p + "mlp.gate_proj", E, I, false);
    Value up = linear(x2, p + "mlp.up_proj", E, I, false);
    Value m = b.create<GLUOp>(loc, gate, up, GatedActivation::silu, ScheduleAttr());
    Value down = linear(m, p + "mlp.down_proj", I, E, false);
    h = b.create<AddOp>(loc, down, h, ScheduleAttr());
  }
  Value xf = rmsNorm(h, "model.norm.weight");
  // An untied head is an nn.Linear [V, E] like the others: as a linear its
  // weight streams in column blocks at the linears' bandwidth (the row
  // kernel's per-row groups cost more than the bytes: README, "Llama at the
  // DRAM roofline") and the final norm fuses into it. A tied head reads the
  // embedding table's rows.
  if (!c.tieEmbeddings)
    return f.finish(linear(xf, "lm_head", E, V, false));
  return f.finish(b.create<LMHeadOp>(loc, f.act(V), xf, table, ScheduleAttr()));
}

// A small Llama-family model written as the xfmr dialect, the way an
// importer of Hugging Face Llama/Mistral/Qwen2 would write it: RMS norms,
// q/k/v projections (with biases, as Qwen2) stored [out, in] and read through
// `transposed` views, rotary embeddings on q and k, grouped-query attention
// (kv heads < heads), a gated SiLU MLP and an untied LM head.
#ifndef XFMR_TEST_REFERENCE_LLAMA_MODEL_H
#define XFMR_TEST_REFERENCE_LLAMA_MODEL_H

#include "interpreter_support.h"

#include <iomanip>
#include <sstream>

namespace xfmr::test {

struct HandLlama {
  int64_t layers = 2, hidden = 32, heads = 4, kvHeads = 2, headDim = 8;
  int64_t ffn = 64, vocab = 50, context = 32;
  double theta = 10000, epsilon = 1e-5;
  bool qkvBias = true;
  bool outputBias = false; // Llama's attention_bias: o_proj's too
  bool tied = false;       // the LM head reads the embedding table
};

/// @forward of the model, unfused, as text: the structure of
/// import/families/LlamaImporter.cpp, written independently of it.
inline std::string llamaModule(const HandLlama &c) {
  const int64_t E = c.hidden, Q = c.heads * c.headDim, KV = c.kvHeads * c.headDim;
  std::ostringstream s;
  auto act = [](int64_t w) { return "tensor<?x" + std::to_string(w) + "xf32>"; };
  auto mat = [](int64_t r, int64_t k) {
    return "tensor<" + std::to_string(r) + "x" + std::to_string(k) + "xf32>";
  };
  auto vec = [](int64_t n) { return "tensor<" + std::to_string(n) + "xf32>"; };
  s << "!cache = !xfmr.kv_cache<layers = " << c.layers << ", heads = " << c.kvHeads
    << ", context = " << c.context << ", head_dim = " << c.headDim << ", f32>\n"
    << "func.func @forward(%tokens: tensor<?xi32>, %pos: index, %cache: !cache) -> "
    << act(c.vocab) << " {\n"
    << "  %emb = xfmr.weight \"model.embed_tokens.weight\" : " << mat(c.vocab, E) << "\n"
    << "  %h0 = xfmr.embedding %tokens, %emb at %pos : tensor<?xi32>, " << mat(c.vocab, E)
    << " -> " << act(E) << "\n";
  auto num = [](double d) {
    std::ostringstream o;
    o << std::scientific << std::setprecision(17) << d;
    return o.str();
  };
  std::string eps = "{epsilon = " + num(c.epsilon) + " : f64}";
  std::string rope = "{head_dim = " + std::to_string(c.headDim) + " : i64, theta = " +
                     num(c.theta) + " : f64}";
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".", L = std::to_string(l);
    auto w = [&](const std::string &name, const std::string &var, int64_t in, int64_t out) {
      // Hugging Face nn.Linear stores [out, in]; the linear reads [in, out].
      s << "  %" << var << L << " = xfmr.weight \"" << p << name
        << ".weight\" transposed : " << mat(in, out) << "\n";
    };
    auto v = [&](const std::string &name, const std::string &var, int64_t n) {
      s << "  %" << var << L << " = xfmr.weight \"" << p << name << "\" : " << vec(n) << "\n";
    };
    auto linear = [&](const std::string &out, const std::string &in, const std::string &wv,
                      const std::string &bias, int64_t k, int64_t n) {
      s << "  %" << out << L << " = xfmr.linear %" << in << ", %" << wv << L
        << (bias.empty() ? "" : ", %" + bias + L) << " : " << act(k) << ", " << mat(k, n)
        << (bias.empty() ? "" : ", " + vec(n)) << " -> " << act(n) << "\n";
    };
    std::string h = l == 0 ? "h0" : "h" + std::to_string(l - 1) + "_out";
    v("input_layernorm.weight", "ln1_", E);
    s << "  %x" << L << " = xfmr.rms_norm %" << h << ", %ln1_" << L << " " << eps << " : "
      << act(E) << ", " << vec(E) << " -> " << act(E) << "\n";
    w("self_attn.q_proj", "wq", E, Q);
    w("self_attn.k_proj", "wk", E, KV);
    w("self_attn.v_proj", "wv", E, KV);
    if (c.qkvBias) {
      v("self_attn.q_proj.bias", "bq", Q);
      v("self_attn.k_proj.bias", "bk", KV);
      v("self_attn.v_proj.bias", "bv", KV);
    }
    std::string x = "x" + L;
    linear("q", x, "wq", c.qkvBias ? "bq" : "", E, Q);
    linear("k", x, "wk", c.qkvBias ? "bk" : "", E, KV);
    linear("v", x, "wv", c.qkvBias ? "bv" : "", E, KV);
    s << "  %qr" << L << " = xfmr.rotary %q" << L << " at %pos " << rope << " : " << act(Q)
      << "\n"
      << "  %kr" << L << " = xfmr.rotary %k" << L << " at %pos " << rope << " : " << act(KV)
      << "\n"
      << "  %a" << L << " = xfmr.attention(%qr" << L << ", %kr" << L << ", %v" << L
      << "), %cache at %pos {layer = " << l << " : i64, num_heads = " << c.heads
      << " : i64} : (" << act(Q) << ", " << act(KV) << ", " << act(KV) << "), !cache -> "
      << act(Q) << "\n";
    w("self_attn.o_proj", "wo", Q, E);
    if (c.outputBias)
      v("self_attn.o_proj.bias", "bo", E);
    linear("o", "a" + L, "wo", c.outputBias ? "bo" : "", Q, E);
    s << "  %r" << L << " = xfmr.add %o" << L << ", %" << h << " : " << act(E) << "\n";
    v("post_attention_layernorm.weight", "ln2_", E);
    s << "  %y" << L << " = xfmr.rms_norm %r" << L << ", %ln2_" << L << " " << eps << " : "
      << act(E) << ", " << vec(E) << " -> " << act(E) << "\n";
    w("mlp.gate_proj", "wg", E, c.ffn);
    w("mlp.up_proj", "wu", E, c.ffn);
    w("mlp.down_proj", "wd", c.ffn, E);
    linear("g", "y" + L, "wg", "", E, c.ffn);
    linear("u", "y" + L, "wu", "", E, c.ffn);
    s << "  %m" << L << " = xfmr.glu %g" << L << ", %u" << L << ", silu : " << act(c.ffn)
      << "\n";
    linear("d", "m" + L, "wd", "", c.ffn, E);
    s << "  %h" << L << "_out = xfmr.add %d" << L << ", %r" << L << " : " << act(E) << "\n";
  }
  std::string last = "h" + std::to_string(c.layers - 1) + "_out";
  s << "  %lnf = xfmr.weight \"model.norm.weight\" : " << vec(E) << "\n"
    << "  %xf = xfmr.rms_norm %" << last << ", %lnf " << eps << " : " << act(E) << ", "
    << vec(E) << " -> " << act(E) << "\n"
    << (c.tied ? "" : "  %head = xfmr.weight \"lm_head.weight\" : " + mat(c.vocab, E) + "\n")
    << "  %logits = xfmr.lm_head %xf, %" << (c.tied ? "emb" : "head") << " : " << act(E)
    << ", " << mat(c.vocab, E)
    << " -> " << act(c.vocab) << "\n"
    << "  return %logits : " << act(c.vocab) << "\n}\n";
  return s.str();
}

/// Random weights for every tensor llamaModule names, stored as Hugging
/// Face stores them (projections [out, in]); norm gains around 1.
inline TensorMap llamaWeights(const HandLlama &c, unsigned seed) {
  std::mt19937 rng(seed);
  const int64_t E = c.hidden, Q = c.heads * c.headDim, KV = c.kvHeads * c.headDim;
  TensorMap m;
  auto gain = [&](int64_t n) {
    reference::StoredTensor t = randomTensor({n}, rng, 0.2f);
    for (float &v : t.data)
      v += 1;
    return t;
  };
  m["model.embed_tokens.weight"] = randomTensor({c.vocab, E}, rng);
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    m[p + "input_layernorm.weight"] = gain(E);
    m[p + "self_attn.q_proj.weight"] = randomTensor({Q, E}, rng, 0.3f);
    m[p + "self_attn.k_proj.weight"] = randomTensor({KV, E}, rng, 0.3f);
    m[p + "self_attn.v_proj.weight"] = randomTensor({KV, E}, rng, 0.3f);
    m[p + "self_attn.q_proj.bias"] = randomTensor({Q}, rng, 0.1f);
    m[p + "self_attn.k_proj.bias"] = randomTensor({KV}, rng, 0.1f);
    m[p + "self_attn.v_proj.bias"] = randomTensor({KV}, rng, 0.1f);
    m[p + "self_attn.o_proj.weight"] = randomTensor({E, Q}, rng, 0.2f);
    m[p + "self_attn.o_proj.bias"] = randomTensor({E}, rng, 0.1f);
    m[p + "post_attention_layernorm.weight"] = gain(E);
    m[p + "mlp.gate_proj.weight"] = randomTensor({c.ffn, E}, rng, 0.3f);
    m[p + "mlp.up_proj.weight"] = randomTensor({c.ffn, E}, rng, 0.3f);
    m[p + "mlp.down_proj.weight"] = randomTensor({E, c.ffn}, rng, 0.2f);
  }
  m["model.norm.weight"] = gain(E);
  m["lm_head.weight"] = randomTensor({c.vocab, E}, rng, 0.3f);
  return m;
}

} // namespace xfmr::test

#endif

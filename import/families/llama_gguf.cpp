//===- llama_gguf.cpp - the Llama family as llama.cpp's GGUF stores it -----===//
//
// A GGUF file of architecture "llama" (Llama 1-3, Mistral, TinyLlama) or
// "qwen2" carries the config as "<arch>.*" metadata and the tensors under
// llama.cpp's names, linear weights as ne = {in, out} (the bytes of
// PyTorch's [out, in]). Its converter permuted q_proj's and k_proj's rows
// so that llama.cpp's rotary, which rotates adjacent pairs (2i, 2i+1), does
// what Hugging Face's rotate-half does to (i, i + head_dim/2); reading them
// back into the Hugging Face order undoes that.
//
//===----------------------------------------------------------------------===//
#include "xfmr/import/gguf.h"
#include "xfmr/import/llama.h"

#include <cmath>

using namespace xfmr::io;

namespace {
/// Typed, bounded reads of "<arch>.*" keys, the first failure kept.
struct Keys {
  const GGUFFile &f;
  std::string arch, error;

  bool fail(const std::string &why) {
    if (error.empty())
      error = f.path() + ": " + why;
    return false;
  }
  /// An unsigned or non-negative integer key in [lo, hi].
  bool integer(const std::string &key, int64_t lo, int64_t hi, int64_t *out,
               bool required = true) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return required ? fail("metadata '" + key + "' is missing") : true;
    int64_t x;
    switch (v->type) {
    case GGUFType::U8: case GGUFType::U16: case GGUFType::U32: case GGUFType::U64:
      if (v->u > uint64_t(INT64_MAX))
        return fail("metadata '" + key + "' = " + std::to_string(v->u) + " is out of range");
      x = int64_t(v->u);
      break;
    case GGUFType::I8: case GGUFType::I16: case GGUFType::I32: case GGUFType::I64:
      x = v->i;
      break;
    default:
      return fail("metadata '" + key + "' must be an integer, not a " + ggufTypeName(v->type));
    }
    if (x < lo || x > hi)
      return fail("metadata '" + key + "' = " + std::to_string(x) + " is outside [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = x;
    return true;
  }
  bool number(const std::string &key, double lo, double hi, double *out) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return true;
    if (v->type != GGUFType::F32 && v->type != GGUFType::F64)
      return fail("metadata '" + key + "' must be a float, not a " + ggufTypeName(v->type));
    if (!(v->f >= lo && v->f <= hi))
      return fail("metadata '" + key + "' = " + std::to_string(v->f) + " is outside [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = v->f;
    return true;
  }
  bool string(const std::string &key, std::string *out) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return true;
    if (v->type != GGUFType::String)
      return fail("metadata '" + key + "' must be a string, not a " + ggufTypeName(v->type));
    *out = v->s;
    return true;
  }
};
} // namespace

bool xfmr::io::llamaConfigFromGGUF(const GGUFFile &f, LlamaConfig &c, std::string *error) {
  Keys k{f, "", ""};
  if (!k.string("general.architecture", &k.arch) || k.arch.empty()) {
    *error = k.error.empty() ? f.path() + ": metadata 'general.architecture' is missing" : k.error;
    return false;
  }
  if (k.arch != "llama" && k.arch != "qwen2") {
    *error = f.path() + ": general.architecture '" + ggufShown(k.arch) +
             "' is not a Llama-family architecture (llama, qwen2)";
    return false;
  }
  const std::string a = k.arch + ".";
  c.modelType = k.arch;
  k.integer(a + "block_count", 1, 1024, &c.layers);
  k.integer(a + "embedding_length", 1, 1 << 16, &c.hidden);
  k.integer(a + "feed_forward_length", 1, 1 << 20, &c.intermediate);
  k.integer(a + "attention.head_count", 1, 1024, &c.heads);
  c.kvHeads = c.heads;
  k.integer(a + "attention.head_count_kv", 1, 1024, &c.kvHeads, false);
  k.integer(a + "context_length", 1, 1 << 24, &c.context);
  c.rmsEpsilon = 1e-5;
  k.number(a + "attention.layer_norm_rms_epsilon", 0, 1, &c.rmsEpsilon);
  c.ropeTheta = 10000;
  k.number(a + "rope.freq_base", 0, 1e12, &c.ropeTheta);
  if (!k.error.empty()) {
    *error = k.error;
    return false;
  }
  if (c.heads % c.kvHeads != 0) {
    *error = f.path() + ": metadata '" + a + "attention.head_count' " + std::to_string(c.heads) +
             " is not a multiple of '" + a + "attention.head_count_kv' " +
             std::to_string(c.kvHeads);
    return false;
  }
  c.headDim = c.hidden % c.heads == 0 ? c.hidden / c.heads : 0;
  k.integer(a + "attention.key_length", 2, 1024, &c.headDim, c.headDim == 0);
  int64_t valueLength = c.headDim, ropeDims = c.headDim;
  k.integer(a + "attention.value_length", 2, 1024, &valueLength, false);
  k.integer(a + "rope.dimension_count", 2, 1024, &ropeDims, false);
  if (!k.error.empty()) {
    *error = k.error;
    return false;
  }
  if (valueLength != c.headDim || ropeDims != c.headDim || c.headDim % 2 != 0) {
    *error = f.path() + ": key length " + std::to_string(c.headDim) + ", value length " +
             std::to_string(valueLength) + " and rotary dimensions " + std::to_string(ropeDims) +
             " must be one even head_dim (partial rotary is not supported)";
    return false;
  }
  // Rope scaling: none or linear; llama3's (rope_freqs.weight) and YaRN are
  // refused by name.
  std::string scaling = "none";
  k.string(a + "rope.scaling.type", &scaling);
  if (scaling == "linear") {
    c.ropeScaling.kind = RopeScaling::Kind::Linear;
    k.number(a + "rope.scaling.factor", 1e-3, 1e6, &c.ropeScaling.factor);
  } else if (scaling != "none") {
    *error = f.path() + ": metadata '" + a + "rope.scaling.type' '" + ggufShown(scaling) +
             "' is not supported (none, linear)";
    return false;
  }
  if (f.findTensor("rope_freqs.weight")) {
    *error = f.path() + ": tensor 'rope_freqs.weight' (llama3 rope scaling as llama.cpp stores "
                        "it) is not supported yet";
    return false;
  }
  // The vocabulary: the token list, or the embedding's rows.
  c.vocab = 0;
  if (const GGUFValue *t = f.find("tokenizer.ggml.tokens"))
    c.vocab = int64_t(t->elements.size());
  if (const GGUFTensorInfo *e = f.findTensor("token_embd.weight"); e && e->ne.size() == 2) {
    if (c.vocab != 0 && c.vocab != e->ne[1]) {
      *error = f.path() + ": tokenizer.ggml.tokens has " + std::to_string(c.vocab) +
               " tokens but token_embd.weight has " + std::to_string(e->ne[1]) + " rows";
      return false;
    }
    c.vocab = e->ne[1];
  }
  if (c.vocab <= 0) {
    *error = f.path() + ": no vocabulary (neither tokenizer.ggml.tokens nor token_embd.weight)";
    return false;
  }
  c.tieEmbeddings = f.findTensor("output.weight") == nullptr;
  c.qkvBias = f.findTensor("blk.0.attn_q.bias") != nullptr;
  c.outputBias = f.findTensor("blk.0.attn_output.bias") != nullptr;
  c.bos = c.eos = -1;
  k.integer("tokenizer.ggml.bos_token_id", 0, c.vocab - 1, &c.bos, false);
  k.integer("tokenizer.ggml.eos_token_id", 0, c.vocab - 1, &c.eos, false);
  if (!k.error.empty()) {
    *error = k.error;
    return false;
  }
  return true;
}

std::string xfmr::io::llamaNameFromGGUF(const std::string &g) {
  static const std::pair<const char *, const char *> global[] = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  for (auto [from, to] : global)
    if (g == from)
      return to;
  static const std::pair<const char *, const char *> block[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"attn_output.bias", "self_attn.o_proj.bias"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  if (g.rfind("blk.", 0) != 0)
    return "";
  size_t dot = g.find('.', 4);
  if (dot == std::string::npos || dot == 4)
    return "";
  std::string layer = g.substr(4, dot - 4);
  for (char ch : layer)
    if (ch < '0' || ch > '9')
      return "";
  std::string rest = g.substr(dot + 1);
  for (auto [from, to] : block)
    if (rest == from)
      return "model.layers." + layer + "." + to;
  return "";
}

int64_t xfmr::io::hfRowOfGGUFRow(int64_t row, int64_t headDim) {
  // llama.cpp's converter: rows (head, two, half) -> (head, half, two).
  const int64_t head = row / headDim, r = row % headDim;
  return head * headDim + (r % 2) * (headDim / 2) + r / 2;
}

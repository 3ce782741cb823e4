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
#include "gguf_keys.h"
#include "xfmr/import/gguf_model_writer.h"
#include "xfmr/import/ggml_blocks.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_checkpoint.h"
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/io/files.h"
#include "xfmr/import/llama.h"
#include "xfmr/io/half.h"

#include <cmath>
#include <cstring>
#include <algorithm>
#include <map>
#include <unistd.h>

using namespace xfmr::io;


bool xfmr::io::llamaConfigFromGGUF(const GGUFFile &f, LlamaConfig &c, std::string *error) {
  GGUFKeys k{f, "", ""};
  if (!k.string("general.architecture", &k.arch) || k.arch.empty()) {
    *error = k.error.empty() ? f.path() + ": metadata 'general.architecture' is missing" : k.error;
    return false;
  }
  if (k.arch != "llama" && k.arch != "qwen2") {
    *error = f.path() + ": general.architecture " + xfmr::io::quoted(k.arch) + " is not a Llama-family architecture (llama, qwen2)";
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
    *error = f.path() + ": metadata '" + a + "rope.scaling.type' " + xfmr::io::quoted(scaling) + " is not supported (none, linear)";
    return false;
  }
  if (f.findTensor("rope_freqs.weight")) {
    *error = f.path() + ": tensor 'rope_freqs.weight' (llama3 rope scaling as llama.cpp stores "
                        "it) is not supported yet";
    return false;
  }
  if (!ggufVocabulary(f, int64_t(1) << 31, &c.vocab, error))
    return false;
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

std::unique_ptr<ModelDir> LlamaModel::openGGUF(std::unique_ptr<GGUFFile> f,
                                               std::string *error) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  LlamaConfig &c = m->config_;
  if (!llamaConfigFromGGUF(*f, c, error))
    return nullptr;
  m->dir_ = f->path();
  m->configPath_ = f->path();
  m->modelType_ = c.modelType;
  m->shape_ = {c.layers, c.hidden, c.heads, c.kvHeads, c.headDim,
               c.context, c.vocab, c.bos, c.eos};
  // The tokenizer now, so bad metadata fails the open as bad config does.
  if (!tokenizerFilesFromGGUF(*f, &m->tokenizerFiles_, error))
    return nullptr;
  // q_proj/k_proj rows (architecture llama) back in Hugging Face's order.
  const bool permuted = c.modelType == "llama";
  m->checkpoint_ = openGGUFCheckpoint(
      std::move(f),
      [&](const GGUFTensorInfo &t) {
        GGUFTensorMapping tm{llamaNameFromGGUF(t.name), 0};
        if (permuted && (tm.name.find("self_attn.q_proj.") != std::string::npos ||
                         tm.name.find("self_attn.k_proj.") != std::string::npos))
          tm.permuteHeadDim = c.headDim;
        return tm;
      },
      error);
  if (!m->checkpoint_ || !m->checkTensors(expectedTensors(c), error))
    return nullptr;
  return m;
}

bool xfmr::io::writeLlamaGGUF(const LlamaModel &m, const std::string &path, GGMLType type,
                              std::string *error) {
  const LlamaConfig &c = m.config();
  const std::string a = c.modelType == "qwen2" ? "qwen2." : "llama.";
  auto u32 = [](int64_t v) { return GGUFValue::unsignedInt(GGUFType::U32, uint64_t(v)); };
  auto f32 = [](double v) { return GGUFValue::real(GGUFType::F32, v); };
  std::vector<std::pair<std::string, GGUFValue>> kv = {
      {"general.architecture", GGUFValue::string(a.substr(0, a.size() - 1))},
      {a + "block_count", u32(c.layers)},
      {a + "embedding_length", u32(c.hidden)},
      {a + "feed_forward_length", u32(c.intermediate)},
      {a + "attention.head_count", u32(c.heads)},
      {a + "attention.head_count_kv", u32(c.kvHeads)},
      {a + "attention.key_length", u32(c.headDim)},
      {a + "attention.value_length", u32(c.headDim)},
      {a + "context_length", u32(c.context)},
      {a + "attention.layer_norm_rms_epsilon", f32(c.rmsEpsilon)},
      {a + "rope.freq_base", f32(c.ropeTheta)},
  };
  if (c.ropeScaling.kind == RopeScaling::Kind::Linear) {
    kv.push_back({a + "rope.scaling.type", GGUFValue::string("linear")});
    kv.push_back({a + "rope.scaling.factor", f32(c.ropeScaling.factor)});
  } else if (c.ropeScaling.kind != RopeScaling::Kind::None) {
    *error = "writeLlamaGGUF: llama3 rope scaling is not written";
    return false;
  }
  GGUFTokenizerMetadata tok;
  if (!ggufTokenizerOf(m, c.vocab, &tok, error))
    return false;
  kv.insert(kv.end(), tok.kv.begin(), tok.kv.end());
  appendSpecialTokenIds(tok, c.bos, c.eos, c.vocab, &kv);
  // Inverse of the reader's mapping, over the tensors the config implies.
  std::map<std::string, std::string> ggufOf;
  auto add = [&](const std::string &g) { ggufOf[llamaNameFromGGUF(g)] = g; };
  add("token_embd.weight");
  add("output_norm.weight");
  add("output.weight");
  static const char *perBlock[] = {"attn_norm.weight", "attn_q.weight", "attn_k.weight",
                                   "attn_v.weight", "attn_q.bias", "attn_k.bias",
                                   "attn_v.bias", "attn_output.weight", "attn_output.bias",
                                   "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
                                   "ffn_down.weight"};
  for (int64_t l = 0; l < c.layers; ++l)
    for (const char *n : perBlock)
      add("blk." + std::to_string(l) + "." + n);
  std::vector<GGUFTensorData> tensors;
  for (const auto &[hf, shape] : LlamaModel::expectedTensors(c)) {
    const Checkpoint::Tensor *t = m.checkpoint().find(hf);
    auto g = ggufOf.find(hf);
    if (!t || g == ggufOf.end()) {
      *error = "writeLlamaGGUF: no tensor '" + hf + "'";
      return false;
    }
    std::vector<float> x = m.checkpoint().toF32(*t);
    const bool qk = c.modelType == "llama" && (hf.find("self_attn.q_proj.") != std::string::npos ||
                                               hf.find("self_attn.k_proj.") != std::string::npos);
    if (qk) { // llama.cpp's converter's row order
      const int64_t rows = shape[0];
      const size_t cols = x.size() / size_t(rows);
      std::vector<float> p(x.size());
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(p.data() + size_t(r) * cols, x.data() + size_t(hfRowOfGGUFRow(r, c.headDim)) * cols,
                    cols * 4);
      x = std::move(p);
    }
    GGUFTensorData d;
    if (!ggufTensorOf(g->second, shape, x, type, &d, error))
      return false;
    tensors.push_back(std::move(d));
  }
  return writeGGUF(path, kv, tensors, error);
}

//===- gpt2_gguf.cpp - GPT-2 as llama.cpp's GGUF stores it -----------------===//
//
// A GGUF file of architecture "gpt2" carries the config as "gpt2.*"
// metadata and the tensors under llama.cpp's names. Its converter
// transposes Conv1D's [in, out] linears to nn.Linear's [out, in] (ne = {in,
// out}), so c_attn is [3E, E], Q, K and V one above the other: the model
// reads each linear as a transposed view (GPT2Layout::linearsOutIn), whose
// Q8_0 / Q4_0 blocks run along its reduction and pack as they are. Older
// converters also wrote output.weight, a copy of token_embd; when a file
// has one, it is the LM head, as llama.cpp reads it.
//
//===----------------------------------------------------------------------===//
#include "gguf_keys.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_checkpoint.h"
#include "xfmr/import/gguf_model_writer.h"
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/io/files.h"

using namespace xfmr::io;

bool xfmr::io::gpt2ConfigFromGGUF(const GGUFFile &f, GPT2Config &c, std::string *error) {
  GGUFKeys k{f, "", ""};
  if (!k.string("general.architecture", &k.arch) || k.arch.empty()) {
    *error = k.error.empty() ? f.path() + ": metadata 'general.architecture' is missing" : k.error;
    return false;
  }
  if (k.arch != "gpt2") {
    *error = f.path() + ": general.architecture " + quoted(k.arch) + " is not GPT-2 (gpt2)";
    return false;
  }
  // The bounds of config.json's (parseGPT2Config), before anything is
  // sized from them.
  int64_t ff = 0, kvHeads = 0;
  k.integer("gpt2.block_count", 1, 1024, &c.nLayer);
  k.integer("gpt2.embedding_length", 1, 1 << 16, &c.nEmbd);
  k.integer("gpt2.feed_forward_length", 1, 1 << 20, &ff);
  k.integer("gpt2.attention.head_count", 1, 1024, &c.nHead);
  k.integer("gpt2.context_length", 1, 1 << 20, &c.nCtx);
  k.number("gpt2.attention.layer_norm_epsilon", 0, 1, &c.epsilon, /*required=*/true);
  kvHeads = c.nHead;
  k.integer("gpt2.attention.head_count_kv", 1, 1024, &kvHeads, false);
  if (!k.error.empty()) {
    *error = k.error;
    return false;
  }
  auto bad = [&](const std::string &key, const std::string &why) {
    *error = f.path() + ": metadata '" + key + "' " + why;
    return false;
  };
  if (!(c.epsilon > 0))
    return bad("gpt2.attention.layer_norm_epsilon", "must be positive");
  if (ff != 4 * c.nEmbd)
    return bad("gpt2.feed_forward_length",
               "= " + std::to_string(ff) + " is not 4 x gpt2.embedding_length (" +
                   std::to_string(4 * c.nEmbd) + "), the only MLP GPT-2 has");
  if (c.nEmbd % c.nHead != 0)
    return bad("gpt2.embedding_length", "= " + std::to_string(c.nEmbd) +
                                            " is not a multiple of 'gpt2.attention.head_count' " +
                                            std::to_string(c.nHead));
  if (kvHeads != c.nHead)
    return bad("gpt2.attention.head_count_kv",
               "= " + std::to_string(kvHeads) +
                   " differs from 'gpt2.attention.head_count' (GPT-2 has no grouped-query "
                   "attention)");
  if (!ggufVocabulary(f, 1 << 24, &c.vocab, error))
    return false;
  c.bosToken = c.eosToken = -1;
  k.integer("tokenizer.ggml.bos_token_id", 0, c.vocab - 1, &c.bosToken, false);
  k.integer("tokenizer.ggml.eos_token_id", 0, c.vocab - 1, &c.eosToken, false);
  if (!k.error.empty()) {
    *error = k.error;
    return false;
  }
  return true;
}

namespace {
/// llama.cpp's names (llama-arch.cpp, LLM_ARCH_GPT2) and Hugging Face's.
constexpr std::pair<const char *, const char *> kGlobal[] = {
    {"token_embd.weight", "wte.weight"},     {"position_embd.weight", "wpe.weight"},
    {"output_norm.weight", "ln_f.weight"},   {"output_norm.bias", "ln_f.bias"},
    {"output.weight", "lm_head.weight"},
};
constexpr std::pair<const char *, const char *> kBlock[] = {
    {"attn_norm.weight", "ln_1.weight"},        {"attn_norm.bias", "ln_1.bias"},
    {"attn_qkv.weight", "attn.c_attn.weight"},  {"attn_qkv.bias", "attn.c_attn.bias"},
    {"attn_output.weight", "attn.c_proj.weight"}, {"attn_output.bias", "attn.c_proj.bias"},
    {"ffn_norm.weight", "ln_2.weight"},         {"ffn_norm.bias", "ln_2.bias"},
    {"ffn_up.weight", "mlp.c_fc.weight"},       {"ffn_up.bias", "mlp.c_fc.bias"},
    {"ffn_down.weight", "mlp.c_proj.weight"},   {"ffn_down.bias", "mlp.c_proj.bias"},
};

/// "PREFIX<digits>.REST" -> {digits, REST}; false otherwise.
bool splitBlock(const std::string &name, const char *prefix, std::string *layer,
                std::string *rest) {
  const size_t n = std::char_traits<char>::length(prefix);
  if (name.compare(0, n, prefix) != 0)
    return false;
  size_t dot = name.find('.', n);
  if (dot == std::string::npos || dot == n)
    return false;
  *layer = name.substr(n, dot - n);
  for (char ch : *layer)
    if (ch < '0' || ch > '9')
      return false;
  *rest = name.substr(dot + 1);
  return true;
}
} // namespace

std::string xfmr::io::gpt2NameFromGGUF(const std::string &g) {
  for (auto [gguf, hf] : kGlobal)
    if (g == gguf)
      return hf;
  std::string layer, rest;
  if (splitBlock(g, "blk.", &layer, &rest))
    for (auto [gguf, hf] : kBlock)
      if (rest == gguf)
        return "h." + layer + "." + hf;
  return "";
}

std::string xfmr::io::ggufNameFromGPT2(const std::string &h) {
  for (auto [gguf, hf] : kGlobal)
    if (h == hf)
      return gguf;
  std::string layer, rest;
  if (splitBlock(h, "h.", &layer, &rest))
    for (auto [gguf, hf] : kBlock)
      if (rest == hf)
        return "blk." + layer + "." + gguf;
  return "";
}

std::unique_ptr<ModelDir> GPT2Model::openGGUF(std::unique_ptr<GGUFFile> f, std::string *error) {
  std::unique_ptr<GPT2Model> m(new GPT2Model());
  GPT2Config &c = m->config_;
  if (!gpt2ConfigFromGGUF(*f, c, error))
    return nullptr;
  m->layout_ = {/*linearsOutIn=*/true, /*untiedHead=*/f->findTensor("output.weight") != nullptr};
  m->dir_ = f->path();
  m->configPath_ = f->path();
  m->modelType_ = "gpt2";
  m->shape_ = {c.nLayer, c.nEmbd, c.nHead, c.nHead, c.nEmbd / c.nHead, c.nCtx,
               c.vocab, c.bosToken, c.eosToken};
  // The tensors by their GGUF names first, so a message names what the
  // file has: each one the config implies, with its shape.
  const TensorList expected = expectedTensors(c, m->layout_);
  for (const auto &[hf, shape] : expected) {
    const std::string name = ggufNameFromGPT2(hf);
    const GGUFTensorInfo *t = f->findTensor(name);
    if (!t) {
      *error = f->path() + ": tensor " + quoted(name) + " is missing";
      return nullptr;
    }
    std::vector<int64_t> stored(t->ne.rbegin(), t->ne.rend());
    if (stored != shape) {
      *error = f->path() + ": tensor " + quoted(name) + " has shape " + shapeString(stored) +
               " but the metadata implies " + shapeString(shape);
      return nullptr;
    }
  }
  // The tokenizer now, so bad metadata fails the open as bad config does.
  if (!tokenizerFilesFromGGUF(*f, &m->tokenizerFiles_, error))
    return nullptr;
  // No rows were permuted: GPT-2 has no rotary.
  auto map = [](const GGUFTensorInfo &t) { return GGUFTensorMapping{gpt2NameFromGGUF(t.name), 0}; };
  m->checkpoint_ = openGGUFCheckpoint(std::move(f), map, error);
  if (!m->checkpoint_ || !m->checkTensors(expected, error))
    return nullptr;
  return m;
}

bool xfmr::io::writeGPT2GGUF(const GPT2Model &m, const std::string &path, GGMLType type,
                             std::string *error) {
  const GPT2Config &c = m.config();
  auto u32 = [](int64_t v) { return GGUFValue::unsignedInt(GGUFType::U32, uint64_t(v)); };
  // convert_hf_to_gguf.py's GPT2Model.set_gguf_parameters.
  std::vector<std::pair<std::string, GGUFValue>> kv = {
      {"general.architecture", GGUFValue::string("gpt2")},
      {"gpt2.block_count", u32(c.nLayer)},
      {"gpt2.context_length", u32(c.nCtx)},
      {"gpt2.embedding_length", u32(c.nEmbd)},
      {"gpt2.feed_forward_length", u32(4 * c.nEmbd)},
      {"gpt2.attention.head_count", u32(c.nHead)},
      {"gpt2.attention.layer_norm_epsilon", GGUFValue::real(GGUFType::F32, c.epsilon)},
  };
  GGUFTokenizerMetadata tok;
  if (!ggufTokenizerOf(m, c.vocab, &tok, error))
    return false;
  kv.insert(kv.end(), tok.kv.begin(), tok.kv.end());
  appendSpecialTokenIds(tok, c.bosToken, c.eosToken, c.vocab, &kv);
  // The converter's tensors: the linears transposed (Conv1D [in, out] ->
  // [out, in]), the rest as they are; the mask buffers (attn.bias,
  // attn.masked_bias) are not the model's weights and are left out.
  const GPT2Layout from = m.layout(), to{/*linearsOutIn=*/true, from.untiedHead};
  const TensorList source = GPT2Model::expectedTensors(c, from),
                   target = GPT2Model::expectedTensors(c, to);
  std::vector<GGUFTensorData> tensors;
  for (size_t i = 0; i < source.size(); ++i) {
    const auto &[hf, shape] = source[i];
    const std::vector<int64_t> &outShape = target[i].second;
    const Checkpoint::Tensor *t = m.checkpoint().find(m.fileName(hf));
    if (!t) {
      *error = "writeGPT2GGUF: no tensor '" + m.fileName(hf) + "'";
      return false;
    }
    std::vector<float> x = m.checkpoint().toF32(*t);
    const bool linear = shape.size() == 2 && hf.rfind("h.", 0) == 0;
    if (linear && from.linearsOutIn != to.linearsOutIn) { // [rows, cols] -> [cols, rows]
      const int64_t rows = shape[0], cols = shape[1];
      std::vector<float> tr(x.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k)
          tr[size_t(k * rows + r)] = x[size_t(r * cols + k)];
      x = std::move(tr);
    }
    GGUFTensorData d;
    if (!ggufTensorOf(ggufNameFromGPT2(hf), outShape, x, type, &d, error))
      return false;
    tensors.push_back(std::move(d));
  }
  return writeGGUF(path, kv, tensors, error);
}

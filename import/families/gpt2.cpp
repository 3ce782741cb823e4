#include "xfmr/import/gpt2.h"
#include "xfmr/io/files.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/stat.h>

using namespace xfmr::io;

bool xfmr::io::parseGPT2Config(ConfigJson &j, GPT2Config &c) {
  // Upper bounds before anything is sized from them (GPT-2 XL: 48 layers,
  // 1600 wide, 25 heads, 1024 positions).
  j.integer({"n_layer", "num_hidden_layers"}, 1, 1024, &c.nLayer);
  j.integer({"n_embd", "hidden_size"}, 1, 1 << 16, &c.nEmbd);
  j.integer({"n_head", "num_attention_heads"}, 1, 1024, &c.nHead);
  j.integer({"n_positions", "n_ctx"}, 1, 1 << 20, &c.nCtx);
  j.integer({"vocab_size"}, 1, 1 << 24, &c.vocab);
  j.number("layer_norm_epsilon", 0, 1, &c.epsilon);
  std::string act = "gelu_new";
  j.string("activation_function", &act);
  // Recorded in the manifest, whose numbers are non-negative.
  j.integer({"eos_token_id"}, 0, int64_t(1) << 31, &c.eosToken, false);
  j.integer({"bos_token_id"}, 0, int64_t(1) << 31, &c.bosToken, false);
  if (!j.ok())
    return false;
  if (act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu_fast")
    return j.fail("activation_function \"" + act +
                  "\" is not supported (the tanh GELU, gelu_new, is)");
  if (c.nEmbd % c.nHead != 0)
    return j.fail("n_embd " + std::to_string(c.nEmbd) + " is not a multiple of n_head " +
                  std::to_string(c.nHead));
  return true;
}

bool xfmr::io::parseGPT2Config(const std::string &text, const std::string &path,
                               GPT2Config &c, std::string *error) {
  auto j = ConfigJson::parse(text, path, error);
  if (!j)
    return false;
  if (!parseGPT2Config(*j, c)) {
    *error = j->error();
    return false;
  }
  return true;
}

TensorList GPT2Model::expectedTensors(const GPT2Config &c, const GPT2Layout &layout) {
  int64_t E = c.nEmbd;
  // A linear from `in` to `out` features: Conv1D's [in, out], or [out, in].
  auto linear = [&](int64_t in, int64_t out) {
    return layout.linearsOutIn ? std::vector<int64_t>{out, in} : std::vector<int64_t>{in, out};
  };
  TensorList t{
      {"wte.weight", {c.vocab, E}}, {"wpe.weight", {c.nCtx, E}}};
  for (int64_t i = 0; i < c.nLayer; ++i) {
    std::string h = "h." + std::to_string(i) + ".";
    t.push_back({h + "ln_1.weight", {E}});
    t.push_back({h + "ln_1.bias", {E}});
    t.push_back({h + "attn.c_attn.weight", linear(E, 3 * E)});
    t.push_back({h + "attn.c_attn.bias", {3 * E}});
    t.push_back({h + "attn.c_proj.weight", linear(E, E)});
    t.push_back({h + "attn.c_proj.bias", {E}});
    t.push_back({h + "ln_2.weight", {E}});
    t.push_back({h + "ln_2.bias", {E}});
    t.push_back({h + "mlp.c_fc.weight", linear(E, 4 * E)});
    t.push_back({h + "mlp.c_fc.bias", {4 * E}});
    t.push_back({h + "mlp.c_proj.weight", linear(4 * E, E)});
    t.push_back({h + "mlp.c_proj.bias", {E}});
  }
  t.push_back({"ln_f.weight", {E}});
  t.push_back({"ln_f.bias", {E}});
  if (layout.untiedHead)
    t.push_back({"lm_head.weight", {c.vocab, E}});
  return t;
}

std::unique_ptr<ModelDir> GPT2Model::open(const std::string &dir, ConfigJson &config,
                                          std::string *error) {
  std::unique_ptr<GPT2Model> m(new GPT2Model());
  GPT2Config &c = m->config_;
  if (!parseGPT2Config(config, c)) {
    *error = config.error();
    return nullptr;
  }
  m->dir_ = dir;
  m->configPath_ = dir + "/config.json";
  m->modelType_ = "gpt2";
  m->shape_ = {c.nLayer, c.nEmbd, c.nHead, c.nHead, c.nEmbd / c.nHead, c.nCtx,
               c.vocab, -1, c.eosToken};
  // Hugging Face's GPT2LMHeadModel saves "transformer."-prefixed names.
  m->checkpoint_ = Checkpoint::open(dir, error);
  if (!m->checkpoint_)
    return nullptr;
  m->prefix_ = m->checkpoint_->find("transformer.wte.weight") &&
                       !m->checkpoint_->find("wte.weight")
                   ? "transformer."
                   : "";
  if (!m->checkTensors(expectedTensors(c), error))
    return nullptr;
  return m;
}

bool xfmr::io::writeRandomGPT2(const std::string &dir, const GPT2Config &c,
                               unsigned seed, std::string *error,
                               const RandomModelFormat &format) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<F32Tensor> tensors;
  for (auto &[name, shape] : GPT2Model::expectedTensors(c)) {
    F32Tensor t{name, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    t.data.resize(size_t(n));
    bool gain = name.find("ln_") != std::string::npos &&
                name.find(".weight") != std::string::npos;
    for (float &v : t.data)
      v = gain ? 1.f : nd(rng);
    t.name = format.prefix + t.name;
    tensors.push_back(std::move(t));
  }
  if (format.attentionBuffers)
    for (int64_t i = 0; i < c.nLayer; ++i) {
      std::string h = format.prefix + "h." + std::to_string(i) + ".attn.";
      F32Tensor mask{h + "bias", {1, 1, c.nCtx, c.nCtx}, {}};
      mask.data.resize(size_t(c.nCtx * c.nCtx));
      for (int64_t r = 0; r < c.nCtx; ++r)
        for (int64_t q = 0; q <= r; ++q)
          mask.data[size_t(r * c.nCtx + q)] = 1.f;
      tensors.push_back(std::move(mask));
      tensors.push_back({h + "masked_bias", {}, {-1e4f}});
    }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = dir + ": cannot create the directory: " + ec.message();
    return false;
  }
  if (!writeSafeTensors(dir + "/model.safetensors", tensors, error, format.dtype))
    return false;
  std::ofstream cfg(dir + "/config.json");
  cfg << "{\"model_type\":\"gpt2\",\"architectures\":[\"GPT2LMHeadModel\"],"
      << "\"n_layer\":" << c.nLayer << ",\"n_embd\":" << c.nEmbd
      << ",\"n_head\":" << c.nHead << ",\"n_positions\":" << c.nCtx
      << ",\"n_ctx\":" << c.nCtx << ",\"vocab_size\":" << c.vocab
      << ",\"layer_norm_epsilon\":" << c.epsilon << ",\"eos_token_id\":" << c.eosToken
      << ",\"activation_function\":\"gelu_new\",\"tie_word_embeddings\":true}\n";
  if (!cfg) {
    *error = dir + "/config.json: write failed";
    return false;
  }
  return true;
}

#include "xfmr/io/gpt2.h"
#include "xfmr/io/files.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/stat.h>

using namespace xfmr::io;

namespace {
std::string shapeString(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

/// Upper bounds of config.json's numbers, checked before anything is sized
/// from them (GPT-2 XL: 48 layers, 1600 wide, 25 heads, 1024 positions).
struct ConfigLimit {
  const char *key, *alt;
  int64_t max;
  int64_t GPT2Config::*field;
};
constexpr ConfigLimit kConfigFields[] = {
    {"n_layer", "num_hidden_layers", 1024, &GPT2Config::nLayer},
    {"n_embd", "hidden_size", 1 << 16, &GPT2Config::nEmbd},
    {"n_head", "num_attention_heads", 1024, &GPT2Config::nHead},
    {"n_positions", "n_ctx", 1 << 20, &GPT2Config::nCtx},
    {"vocab_size", nullptr, 1 << 24, &GPT2Config::vocab},
};
constexpr int64_t kMaxConfigBytes = 1 << 20;

bool readConfig(const std::string &path, GPT2Config &c, std::string *error) {
  std::string text;
  if (!readRegularFile(path, kMaxConfigBytes, &text, error))
    return false;
  return parseGPT2Config(text, path, c, error);
}
} // namespace

bool xfmr::io::parseGPT2Config(const std::string &text, const std::string &path,
                               GPT2Config &c, std::string *error) {
  if (!jsonDepthWithin(text.data(), text.data() + text.size(), kMaxJsonDepth)) {
    *error = path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return false;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = path + ": not a JSON object";
    return false;
  }
  auto integer = [&](const ConfigLimit &f) {
    const nlohmann::json *v = nullptr;
    if (j.contains(f.key))
      v = &j[f.key];
    else if (f.alt && j.contains(f.alt))
      v = &j[f.alt];
    if (!v) {
      *error = path + ": missing '" + f.key + "'";
      return false;
    }
    if (!v->is_number_integer() || v->get<int64_t>() <= 0 || v->get<int64_t>() > f.max) {
      *error = path + ": '" + f.key + "' must be an integer from 1 to " +
               std::to_string(f.max);
      return false;
    }
    c.*f.field = v->get<int64_t>();
    return true;
  };
  for (const ConfigLimit &f : kConfigFields)
    if (!integer(f))
      return false;
  if (j.contains("model_type") && j["model_type"] != "gpt2") {
    *error = path + ": model_type " + j["model_type"].dump() +
             " is not supported (gpt2 is)";
    return false;
  }
  if (j.contains("layer_norm_epsilon")) {
    if (!j["layer_norm_epsilon"].is_number() ||
        !(j["layer_norm_epsilon"].get<double>() > 0 &&
          j["layer_norm_epsilon"].get<double>() < 1)) {
      *error = path + ": 'layer_norm_epsilon' must be a number in (0, 1)";
      return false;
    }
    c.epsilon = j["layer_norm_epsilon"].get<double>();
  }
  if (j.contains("activation_function")) {
    auto a = j["activation_function"];
    if (a != "gelu_new" && a != "gelu_pytorch_tanh" && a != "gelu_fast") {
      *error = path + ": activation_function " + a.dump() +
               " is not supported (the tanh GELU, gelu_new, is)";
      return false;
    }
  }
  if (j.contains("eos_token_id") && j["eos_token_id"].is_number_integer()) {
    c.eosToken = j["eos_token_id"].get<int64_t>();
    // Recorded in the manifest, whose numbers are non-negative.
    if (c.eosToken < 0 || c.eosToken > (int64_t(1) << 31)) {
      *error = path + ": 'eos_token_id' " + std::to_string(c.eosToken) +
               " is not a token id";
      return false;
    }
  }
  if (c.nEmbd % c.nHead != 0) {
    *error = path + ": n_embd " + std::to_string(c.nEmbd) +
             " is not a multiple of n_head " + std::to_string(c.nHead);
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::vector<int64_t>>>
GPT2Files::expectedTensors(const GPT2Config &c) {
  int64_t E = c.nEmbd;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t{
      {"wte.weight", {c.vocab, E}}, {"wpe.weight", {c.nCtx, E}}};
  for (int64_t i = 0; i < c.nLayer; ++i) {
    std::string h = "h." + std::to_string(i) + ".";
    t.push_back({h + "ln_1.weight", {E}});
    t.push_back({h + "ln_1.bias", {E}});
    t.push_back({h + "attn.c_attn.weight", {E, 3 * E}});
    t.push_back({h + "attn.c_attn.bias", {3 * E}});
    t.push_back({h + "attn.c_proj.weight", {E, E}});
    t.push_back({h + "attn.c_proj.bias", {E}});
    t.push_back({h + "ln_2.weight", {E}});
    t.push_back({h + "ln_2.bias", {E}});
    t.push_back({h + "mlp.c_fc.weight", {E, 4 * E}});
    t.push_back({h + "mlp.c_fc.bias", {4 * E}});
    t.push_back({h + "mlp.c_proj.weight", {4 * E, E}});
    t.push_back({h + "mlp.c_proj.bias", {E}});
  }
  t.push_back({"ln_f.weight", {E}});
  t.push_back({"ln_f.bias", {E}});
  return t;
}

std::unique_ptr<GPT2Files> GPT2Files::open(const std::string &dir,
                                           std::string *error) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = dir + ": not a directory";
    return nullptr;
  }
  std::unique_ptr<GPT2Files> f(new GPT2Files());
  if (!readConfig(dir + "/config.json", f->config_, error))
    return nullptr;
  std::string path = dir + "/model.safetensors";
  f->st_ = SafeTensors::open(path, error);
  if (!f->st_)
    return nullptr;
  f->prefix_ = f->st_->find("wte.weight") ? ""
               : f->st_->find("transformer.wte.weight") ? "transformer."
                                                        : "";
  auto check = [&](const std::string &name, const std::vector<int64_t> &shape) {
    const TensorInfo *t = f->st_->find(f->prefix_ + name);
    if (!t) {
      *error = path + ": tensor '" + f->prefix_ + name + "' is missing";
      return false;
    }
    if (t->shape != shape) {
      *error = path + ": tensor '" + t->name + "' has shape " + shapeString(t->shape) +
               " but config.json implies " + shapeString(shape);
      return false;
    }
    return true;
  };
  // The embedding tables first: they name the widths the config gives.
  const GPT2Config &c = f->config_;
  if (!check("wte.weight", {c.vocab, c.nEmbd}) || !check("wpe.weight", {c.nCtx, c.nEmbd}))
    return nullptr;
  // The size config.json declares must fit in the file (2 bytes per value
  // at least) before a table of its tensors is built: a config of 1000
  // layers over a one-layer file must not build one for them.
  __int128 E = c.nEmbd, values = E * (c.vocab + c.nCtx + 2) +
                                 __int128(c.nLayer) * (12 * E * E + 13 * E);
  if (values * 2 > __int128(f->st_->dataBytes())) {
    *error = path + ": config.json declares " + std::to_string(int64_t(values)) +
             " weights, more than the file's " + std::to_string(f->st_->dataBytes()) +
             " data bytes hold";
    return nullptr;
  }
  for (auto &[name, shape] : expectedTensors(f->config_))
    if (!check(name, shape))
      return nullptr;
  return f;
}

std::vector<float> GPT2Files::load(const std::string &canonical) const {
  return st_->toF32(*st_->find(prefix_ + canonical));
}

bool xfmr::io::writeRandomGPT2(const std::string &dir, const GPT2Config &c,
                               unsigned seed, std::string *error,
                               const RandomModelFormat &format) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 0.02f);
  std::vector<F32Tensor> tensors;
  for (auto &[name, shape] : GPT2Files::expectedTensors(c)) {
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

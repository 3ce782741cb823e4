// The Llama family's config schema, tensors and random models (llama.h).
#include "xfmr/import/llama.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <filesystem>
#include <fstream>
#include <atomic>
#include <random>
#include <thread>

using namespace xfmr::io;

namespace {
constexpr int64_t kMaxTokenId = int64_t(1) << 31;

bool readRopeScaling(ConfigJson &j, RopeScaling &r) {
  std::unique_ptr<ConfigJson> s = j.object("rope_scaling");
  if (!s)
    return j.ok();
  std::string type;
  s->string("rope_type", &type);
  if (type.empty())
    s->string("type", &type);
  if (!s->ok())
    return false;
  if (type == "default" || type.empty())
    return true;
  if (type != "linear" && type != "llama3")
    return j.fail("rope_scaling type '" + type +
                  "' is not supported (none, linear and llama3 are)");
  r.kind = type == "linear" ? RopeScaling::Kind::Linear : RopeScaling::Kind::Llama3;
  s->number("factor", 0, 1e6, &r.factor, /*required=*/true);
  if (r.kind == RopeScaling::Kind::Llama3) {
    s->number("low_freq_factor", 0, 1e6, &r.lowFreqFactor, true);
    s->number("high_freq_factor", 0, 1e6, &r.highFreqFactor, true);
    s->integer({"original_max_position_embeddings"}, 1, 1 << 24, &r.originalContext, true);
    if (s->ok() && !(r.highFreqFactor > r.lowFreqFactor))
      return j.fail("rope_scaling.high_freq_factor must exceed low_freq_factor");
  }
  return s->ok();
}
} // namespace

bool xfmr::io::parseLlamaConfig(ConfigJson &j, LlamaConfig &c) {
  j.string("model_type", &c.modelType);
  j.integer({"num_hidden_layers"}, 1, 1024, &c.layers);
  j.integer({"hidden_size"}, 1, 1 << 16, &c.hidden);
  j.integer({"intermediate_size"}, 1, 1 << 20, &c.intermediate);
  j.integer({"num_attention_heads"}, 1, 1024, &c.heads);
  c.kvHeads = c.heads;
  j.integer({"num_key_value_heads"}, 1, 1024, &c.kvHeads, false);
  j.integer({"max_position_embeddings"}, 1, 1 << 24, &c.context);
  j.integer({"vocab_size"}, 1, 1 << 24, &c.vocab);
  c.rmsEpsilon = 1e-6; // transformers' default, when a config leaves it out
  j.number("rms_norm_eps", 0, 1, &c.rmsEpsilon);
  j.number("rope_theta", 0, 1e12, &c.ropeTheta);
  j.boolean("tie_word_embeddings", &c.tieEmbeddings);
  bool attentionBias = false, mlpBias = false, useSlidingWindow = c.modelType == "mistral";
  j.boolean("attention_bias", &attentionBias);
  j.boolean("mlp_bias", &mlpBias);
  j.boolean("use_sliding_window", &useSlidingWindow);
  if (useSlidingWindow)
    j.integer({"sliding_window"}, 1, 1 << 24, &c.slidingWindow, false);
  std::string act = "silu";
  j.string("hidden_act", &act);
  // Llama 3 lists several eos ids; the first ends a text.
  j.firstInteger("bos_token_id", 0, kMaxTokenId, &c.bos);
  j.firstInteger("eos_token_id", 0, kMaxTokenId, &c.eos);
  if (j.isNull("bos_token_id"))
    c.bos = -1;
  if (j.isNull("eos_token_id"))
    c.eos = -1;
  readRopeScaling(j, c.ropeScaling);
  if (!j.ok())
    return false;
  if (act != "silu")
    return j.fail("hidden_act '" + act + "' is not supported (silu is)");
  if (mlpBias)
    return j.fail("mlp_bias true is not supported");
  if (c.heads % c.kvHeads != 0)
    return j.fail("num_attention_heads " + std::to_string(c.heads) +
                  " is not a multiple of num_key_value_heads " + std::to_string(c.kvHeads));
  if (!j.has("head_dim") && c.hidden % c.heads != 0)
    return j.fail("hidden_size " + std::to_string(c.hidden) +
                  " is not a multiple of num_attention_heads " + std::to_string(c.heads) +
                  " and no head_dim is given");
  c.headDim = j.has("head_dim") ? 0 : c.hidden / c.heads;
  j.integer({"head_dim"}, 2, 1024, &c.headDim, false);
  if (!j.ok())
    return false;
  if (c.headDim % 2 != 0)
    return j.fail("head_dim " + std::to_string(c.headDim) +
                  " is odd; rotary embeddings rotate pairs");
  c.qkvBias = c.modelType == "qwen2" || attentionBias;
  c.outputBias = attentionBias;
  return true;
}

TensorList LlamaModel::expectedTensors(const LlamaConfig &c) {
  const int64_t E = c.hidden, Q = c.heads * c.headDim, KV = c.kvHeads * c.headDim,
                I = c.intermediate;
  TensorList t{{"model.embed_tokens.weight", {c.vocab, E}}};
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {E}});
    t.push_back({p + "self_attn.q_proj.weight", {Q, E}});
    t.push_back({p + "self_attn.k_proj.weight", {KV, E}});
    t.push_back({p + "self_attn.v_proj.weight", {KV, E}});
    if (c.qkvBias) {
      t.push_back({p + "self_attn.q_proj.bias", {Q}});
      t.push_back({p + "self_attn.k_proj.bias", {KV}});
      t.push_back({p + "self_attn.v_proj.bias", {KV}});
    }
    t.push_back({p + "self_attn.o_proj.weight", {E, Q}});
    if (c.outputBias)
      t.push_back({p + "self_attn.o_proj.bias", {E}});
    t.push_back({p + "post_attention_layernorm.weight", {E}});
    t.push_back({p + "mlp.gate_proj.weight", {I, E}});
    t.push_back({p + "mlp.up_proj.weight", {I, E}});
    t.push_back({p + "mlp.down_proj.weight", {E, I}});
  }
  t.push_back({"model.norm.weight", {E}});
  if (!c.tieEmbeddings)
    t.push_back({"lm_head.weight", {c.vocab, E}});
  return t;
}

std::unique_ptr<ModelDir> LlamaModel::open(const std::string &dir, ConfigJson &config,
                                           std::string *error) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  LlamaConfig &c = m->config_;
  if (!parseLlamaConfig(config, c)) {
    *error = config.error();
    return nullptr;
  }
  m->dir_ = dir;
  m->configPath_ = dir + "/config.json";
  m->modelType_ = c.modelType;
  m->shape_ = {c.layers, c.hidden, c.heads, c.kvHeads, c.headDim,
               c.context, c.vocab, c.bos, c.eos};
  m->checkpoint_ = Checkpoint::open(dir, error);
  if (!m->checkpoint_ || !m->checkTensors(expectedTensors(c), error))
    return nullptr;
  return m;
}

bool xfmr::io::writeRandomLlama(const std::string &dir, const LlamaConfig &c,
                                unsigned seed, std::string *error,
                                const RandomLlamaFormat &format) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *error = dir + ": cannot create the directory: " + ec.message();
    return false;
  }
  // Qwen2 always has q/k/v biases (parseLlamaConfig says so): write them.
  LlamaConfig tensorsOf = c;
  tensorsOf.qkvBias |= c.modelType == "qwen2";
  TensorList all = LlamaModel::expectedTensors(tensorsOf);
  int64_t shards = std::max<int64_t>(1, std::min<int64_t>(format.shards, int64_t(all.size())));
  // Each chunk of 2^20 values draws from its own generator, seeded by
  // (seed, tensor, chunk): the numbers do not depend on how many threads
  // drew them, and a 1.1B-parameter model is written in seconds.
  size_t tensorIndex = 0;
  auto fill = [&](const std::string &name, std::vector<float> &out) {
    size_t tensor = tensorIndex++;
    if (name.find("norm.weight") != std::string::npos) {
      std::fill(out.begin(), out.end(), 1.f);
      return;
    }
    constexpr size_t kChunk = size_t(1) << 20;
    size_t chunks = (out.size() + kChunk - 1) / kChunk;
    std::atomic<size_t> nextChunk{0};
    auto work = [&] {
      for (size_t k; (k = nextChunk++) < chunks;) {
        std::seed_seq seq{seed, unsigned(tensor), unsigned(k)};
        std::mt19937 rng(seq);
        std::normal_distribution<float> nd(0.f, 0.02f);
        for (size_t i = k * kChunk; i < std::min(out.size(), (k + 1) * kChunk); ++i)
          out[i] = nd(rng);
      }
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < std::max(1u, std::thread::hardware_concurrency()); ++t)
      threads.emplace_back(work);
    work();
    for (std::thread &t : threads)
      t.join();
  };
  // Shards cut the tensor list into equal counts, in order.
  std::string index;
  llvm::raw_string_ostream os(index);
  llvm::json::OStream j(os, 1);
  j.objectBegin();
  j.attributeObject("metadata", [&] {});
  j.attributeBegin("weight_map");
  j.objectBegin();
  size_t at = 0;
  for (int64_t s = 0; s < shards; ++s) {
    size_t end = all.size() * size_t(s + 1) / size_t(shards);
    std::vector<TensorSpec> specs;
    for (size_t i = at; i < end; ++i)
      specs.push_back({all[i].first, all[i].second});
    char name[64];
    std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors",
                  (long long)s + 1, (long long)shards);
    std::string file = shards == 1 ? "model.safetensors" : name;
    if (!writeSafeTensors(
            dir + "/" + file, specs,
            [&](size_t i, std::vector<float> &out) { fill(specs[i].name, out); }, error,
            format.dtype))
      return false;
    for (const TensorSpec &t : specs)
      j.attribute(t.name, file);
    at = end;
  }
  j.objectEnd();
  j.attributeEnd();
  j.objectEnd();
  os.flush();
  if (shards > 1) {
    std::ofstream f(dir + "/model.safetensors.index.json");
    f << index << "\n";
    if (!f) {
      *error = dir + "/model.safetensors.index.json: write failed";
      return false;
    }
  }
  std::string cfg;
  llvm::raw_string_ostream co(cfg);
  llvm::json::OStream cj(co, 2);
  cj.object([&] {
    const char *arch = c.modelType == "qwen2"     ? "Qwen2ForCausalLM"
                       : c.modelType == "mistral" ? "MistralForCausalLM"
                                                  : "LlamaForCausalLM";
    cj.attributeArray("architectures", [&] { cj.value(arch); });
    cj.attribute("model_type", c.modelType);
    cj.attribute("hidden_size", c.hidden);
    cj.attribute("intermediate_size", c.intermediate);
    cj.attribute("num_hidden_layers", c.layers);
    cj.attribute("num_attention_heads", c.heads);
    cj.attribute("num_key_value_heads", c.kvHeads);
    if (c.headDim * c.heads != c.hidden)
      cj.attribute("head_dim", c.headDim);
    cj.attribute("max_position_embeddings", c.context);
    cj.attribute("vocab_size", c.vocab);
    cj.attribute("rms_norm_eps", c.rmsEpsilon);
    cj.attribute("rope_theta", c.ropeTheta);
    cj.attribute("hidden_act", "silu");
    cj.attribute("tie_word_embeddings", c.tieEmbeddings);
    if (c.modelType == "llama")
      cj.attribute("attention_bias", c.outputBias);
    if (c.slidingWindow > 0)
      cj.attribute("sliding_window", c.slidingWindow);
    else if (c.modelType == "mistral")
      cj.attribute("sliding_window", nullptr);
    if (c.bos >= 0)
      cj.attribute("bos_token_id", c.bos);
    if (c.eos >= 0)
      cj.attribute("eos_token_id", c.eos);
    const RopeScaling &r = c.ropeScaling;
    if (r.kind == RopeScaling::Kind::None)
      cj.attribute("rope_scaling", nullptr);
    else
      cj.attributeObject("rope_scaling", [&] {
        cj.attribute("rope_type", r.kind == RopeScaling::Kind::Linear ? "linear" : "llama3");
        cj.attribute("factor", r.factor);
        if (r.kind == RopeScaling::Kind::Llama3) {
          cj.attribute("low_freq_factor", r.lowFreqFactor);
          cj.attribute("high_freq_factor", r.highFreqFactor);
          cj.attribute("original_max_position_embeddings", r.originalContext);
        }
      });
    cj.attribute("torch_dtype", format.dtype == DType::F32   ? "float32"
                                : format.dtype == DType::F16 ? "float16"
                                                             : "bfloat16");
  });
  co.flush();
  std::ofstream f(dir + "/config.json");
  f << cfg << "\n";
  if (!f) {
    *error = dir + "/config.json: write failed";
    return false;
  }
  return true;
}

// Model directories by family: the Llama schema (every field it reads, each
// refusal one line naming the file and field), sharded checkpoints, and the
// family table.
#include "../e2e/compare.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"

#include "llvm/Support/FormatVariadic.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace xfmr::io;

namespace {
using xfmr::test::TempDir;

LlamaConfig tiny() {
  LlamaConfig c;
  c.layers = 2;
  c.hidden = 32;
  c.intermediate = 48;
  c.heads = 4;
  c.kvHeads = 2;
  c.headDim = 8;
  c.context = 64;
  c.vocab = 50;
  return c;
}

/// Rewrites one field of DIR/config.json (raw JSON text as the value; an
/// empty value removes the field).
void setField(const std::string &dir, const std::string &key, const std::string &value) {
  std::ifstream in(dir + "/config.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  llvm::json::Value v = llvm::cantFail(llvm::json::parse(text));
  llvm::json::Object &o = *v.getAsObject();
  o.erase(key);
  if (!value.empty())
    o[key] = llvm::cantFail(llvm::json::parse(value));
  std::ofstream(dir + "/config.json") << llvm::formatv("{0}", v).str();
}

std::string openError(const std::string &dir) {
  std::string err;
  auto m = ModelDir::open(dir, &err);
  EXPECT_FALSE(m) << "opened";
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  return err;
}

TEST(LlamaModel, OpensWhatItWrote) {
  TempDir t;
  std::string err;
  LlamaConfig c = tiny();
  c.ropeScaling.kind = RopeScaling::Kind::Llama3;
  c.ropeScaling.factor = 8;
  ASSERT_TRUE(writeRandomLlama(t.path, c, 1, &err)) << err;
  auto m = ModelDir::open(t.path, &err);
  ASSERT_TRUE(m) << err;
  auto *l = llvm::dyn_cast<LlamaModel>(m.get());
  ASSERT_TRUE(l);
  EXPECT_EQ(l->config().kvHeads, 2);
  EXPECT_EQ(l->config().headDim, 8);
  EXPECT_EQ(l->config().ropeScaling.kind, RopeScaling::Kind::Llama3);
  EXPECT_EQ(l->config().ropeScaling.factor, 8);
  EXPECT_FALSE(l->config().tieEmbeddings);
  EXPECT_EQ(m->shape().context, 64);
  EXPECT_TRUE(m->checkpoint().find("lm_head.weight"));
  // F16 storage: the norms are exactly 1.
  EXPECT_EQ(m->load("model.norm.weight"), std::vector<float>(32, 1.f));
}

TEST(LlamaModel, FamiliesReadTheirFeatures) {
  TempDir t;
  std::string err;
  LlamaConfig c = tiny();
  c.modelType = "qwen2";
  c.qkvBias = true;
  c.tieEmbeddings = true;
  RandomLlamaFormat f32;
  f32.dtype = DType::F32; // room for the biases the edit below adds
  ASSERT_TRUE(writeRandomLlama(t.path, c, 1, &err, f32)) << err;
  auto m = ModelDir::open(t.path, &err);
  ASSERT_TRUE(m) << err;
  const LlamaConfig &q = llvm::cast<LlamaModel>(m.get())->config();
  EXPECT_TRUE(q.qkvBias);
  EXPECT_FALSE(q.outputBias);
  EXPECT_TRUE(q.tieEmbeddings);
  EXPECT_TRUE(m->checkpoint().find("model.layers.1.self_attn.k_proj.bias"));

  // Llama's attention_bias: q, k, v and o biases, which the file must hold.
  setField(t.path, "model_type", "\"llama\"");
  setField(t.path, "attention_bias", "true");
  std::string e = openError(t.path);
  EXPECT_NE(e.find("tensor 'model.layers.0.self_attn.o_proj.bias' is missing"),
            std::string::npos) << e;
}

TEST(LlamaModel, ShardedCheckpoint) {
  TempDir t;
  std::string err;
  RandomLlamaFormat f;
  f.shards = 3;
  f.dtype = DType::BF16;
  ASSERT_TRUE(writeRandomLlama(t.path, tiny(), 7, &err, f)) << err;
  ASSERT_TRUE(std::filesystem::exists(t.path + "/model-00002-of-00003.safetensors"));
  auto m = ModelDir::open(t.path, &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->checkpoint().fileCount(), 3u);
  // The same numbers as one file holds.
  TempDir one;
  f.shards = 1;
  ASSERT_TRUE(writeRandomLlama(one.path, tiny(), 7, &err, f)) << err;
  auto single = ModelDir::open(one.path, &err);
  ASSERT_TRUE(single) << err;
  for (const char *name : {"model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight",
                           "lm_head.weight"})
    EXPECT_EQ(m->load(name), single->load(name)) << name;

  std::filesystem::remove(t.path + "/model-00002-of-00003.safetensors");
  std::string e = openError(t.path);
  EXPECT_NE(e.find("model.safetensors.index.json: shard 'model-00002-of-00003.safetensors'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("is missing"), std::string::npos) << e;
}

TEST(LlamaModel, HostileIndex) {
  TempDir t;
  std::string err;
  RandomLlamaFormat f;
  f.shards = 2;
  ASSERT_TRUE(writeRandomLlama(t.path, tiny(), 7, &err, f)) << err;
  std::string index = t.path + "/model.safetensors.index.json";
  std::ofstream(index) << R"({"weight_map": {"model.norm.weight": "../../etc/passwd"}})";
  EXPECT_NE(openError(t.path).find("must name a .safetensors file in the model directory"),
            std::string::npos);
  std::ofstream(index) << R"({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}})";
  EXPECT_NE(openError(t.path).find("lists tensor 'model.norm.weight' in "
                                   "'model-00001-of-00002.safetensors', which does not hold it"),
            std::string::npos);
  std::ofstream(index) << R"({"weight_map": [1, 2]})";
  EXPECT_NE(openError(t.path).find("needs an object 'weight_map'"), std::string::npos);
}

struct BadField {
  const char *key, *value, *message;
};

TEST(LlamaModel, RefusesBadConfigs) {
  const BadField cases[] = {
      {"model_type", "\"falcon\"", "model_type 'falcon' is not supported (gpt2, llama, mistral, qwen2 are)"},
      {"hidden_size", "", "'hidden_size' is missing"},
      {"num_key_value_heads", "3", "num_attention_heads 4 is not a multiple of num_key_value_heads 3"},
      {"num_key_value_heads", "0", "'num_key_value_heads' must be an integer from 1 to 1024"},
      {"num_hidden_layers", "2.5", "'num_hidden_layers' must be an integer"},
      {"rms_norm_eps", "-1", "'rms_norm_eps' must be a number in (0, 1)"},
      {"rope_theta", "\"big\"", "'rope_theta' must be a number"},
      {"rope_scaling", R"({"rope_type": "yarn", "factor": 4})",
       "rope_scaling type 'yarn' is not supported (none, linear and llama3 are)"},
      {"rope_scaling", R"({"type": "linear"})", "'rope_scaling.factor' is missing"},
      {"rope_scaling", R"({"rope_type": "llama3", "factor": 8, "low_freq_factor": 4,
                           "high_freq_factor": 1, "original_max_position_embeddings": 8192})",
       "rope_scaling.high_freq_factor must exceed low_freq_factor"},
      {"rope_scaling", "3", "'rope_scaling' must be an object"},
      {"hidden_act", "\"gelu\"", "hidden_act 'gelu' is not supported (silu is)"},
      {"mlp_bias", "true", "mlp_bias true is not supported"},
      {"head_dim", "7", "head_dim 7 is odd"},
      {"vocab_size", "51", "tensor 'model.embed_tokens.weight' has shape [50,32] but config.json implies [51,32]"},
      {"eos_token_id", "[]", "'eos_token_id' must be an integer from 0"},
      {"tie_word_embeddings", "\"yes\"", "'tie_word_embeddings' must be true or false"},
      {"intermediate_size", "4800000", "'intermediate_size' must be an integer from 1 to 1048576"},
  };
  for (const BadField &b : cases) {
    TempDir t;
    std::string err;
    ASSERT_TRUE(writeRandomLlama(t.path, tiny(), 1, &err)) << err;
    setField(t.path, b.key, b.value);
    std::string e = openError(t.path);
    EXPECT_NE(e.find(b.message), std::string::npos) << b.key << ": " << e;
    EXPECT_NE(e.find("config.json"), std::string::npos) << e;
  }
}

TEST(LlamaModel, LlamaThreeListsOfEos) {
  TempDir t;
  std::string err;
  ASSERT_TRUE(writeRandomLlama(t.path, tiny(), 1, &err)) << err;
  setField(t.path, "eos_token_id", "[9, 8]");
  setField(t.path, "bos_token_id", "null");
  auto m = ModelDir::open(t.path, &err);
  ASSERT_TRUE(m) << err;
  EXPECT_EQ(m->shape().eos, 9);
  EXPECT_EQ(m->shape().bos, -1);
}

TEST(LlamaModel, DeclaredSizeMustFitTheFiles) {
  TempDir t;
  std::string err;
  ASSERT_TRUE(writeRandomLlama(t.path, tiny(), 1, &err)) << err;
  setField(t.path, "num_hidden_layers", "1000");
  EXPECT_NE(openError(t.path).find("config.json declares"), std::string::npos);
}

TEST(ModelDir, GPT2WithoutModelType) {
  TempDir t;
  std::string err;
  GPT2Config c;
  c.nLayer = 1;
  c.nEmbd = 8;
  c.nHead = 2;
  c.nCtx = 4;
  c.vocab = 10;
  ASSERT_TRUE(writeRandomGPT2(t.path, c, 1, &err)) << err;
  setField(t.path, "model_type", "");
  auto m = ModelDir::open(t.path, &err);
  ASSERT_TRUE(m) << err;
  EXPECT_TRUE(llvm::isa<GPT2Model>(m.get()));
  EXPECT_EQ(m->shape().kvHeads, 2);
}
} // namespace

// GPT-2 from GGUF (gpt2_gguf.cpp): the config from gpt2.* metadata, each
// bad key refused by name; llama.cpp's tensor names both ways; a Hugging
// Face directory written as GGUF (as llama.cpp's converter writes GPT-2)
// opens to the same tensors, linears transposed to [out, in], Q8_0 / Q4_0
// blocks handed over as the file has them; and malformed files are one
// line naming the file and the tensor.
#include "xfmr/import/ggml_blocks.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_model_writer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/model_dir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <cstring>
#include <unistd.h>

using namespace xfmr::io;

namespace {
using KV = std::vector<std::pair<std::string, GGUFValue>>;

GGUFValue u32(uint64_t v) { return GGUFValue::unsignedInt(GGUFType::U32, v); }

KV baseConfig() {
  KV kv;
  kv.emplace_back("general.architecture", GGUFValue::string("gpt2"));
  kv.emplace_back("gpt2.block_count", u32(2));
  kv.emplace_back("gpt2.context_length", u32(64));
  kv.emplace_back("gpt2.embedding_length", u32(64));
  kv.emplace_back("gpt2.feed_forward_length", u32(256));
  kv.emplace_back("gpt2.attention.head_count", u32(4));
  kv.emplace_back("gpt2.attention.layer_norm_epsilon", GGUFValue::real(GGUFType::F32, 1e-5));
  kv.emplace_back("tokenizer.ggml.tokens", GGUFValue::strings({"a", "b", "c"}));
  return kv;
}

/// A GGUF of metadata `kv` and no tensors, parsed.
std::unique_ptr<GGUFFile> metadataFile(const KV &kv, std::vector<uint8_t> &bytes) {
  std::string error;
  EXPECT_TRUE(encodeGGUF(kv, {}, &bytes, &error)) << error;
  auto f = GGUFFile::parse(bytes.data(), bytes.size(), "cfg.gguf", &error);
  EXPECT_TRUE(f) << error;
  return f;
}

TEST(GGUFGPT2, ConfigFromMetadata) {
  std::vector<uint8_t> bytes;
  KV kv = baseConfig();
  kv.emplace_back("tokenizer.ggml.eos_token_id", u32(2));
  GPT2Config c;
  std::string error;
  ASSERT_TRUE(gpt2ConfigFromGGUF(*metadataFile(kv, bytes), c, &error)) << error;
  EXPECT_EQ(c.nLayer, 2);
  EXPECT_EQ(c.nCtx, 64);
  EXPECT_EQ(c.nEmbd, 64);
  EXPECT_EQ(c.nHead, 4);
  EXPECT_EQ(c.vocab, 3);
  EXPECT_FLOAT_EQ(float(c.epsilon), 1e-5f);
  EXPECT_EQ(c.eosToken, 2);
  EXPECT_EQ(c.bosToken, -1);
}

TEST(GGUFGPT2, BadConfigsAreRefusedByKey) {
  auto refused = [&](KV kv, const std::string &needle) {
    std::vector<uint8_t> b;
    auto f = metadataFile(kv, b);
    GPT2Config c;
    std::string e;
    EXPECT_FALSE(gpt2ConfigFromGGUF(*f, c, &e)) << needle;
    EXPECT_NE(e.find(needle), std::string::npos) << "wanted: " << needle << "\n got: " << e;
    EXPECT_EQ(e.rfind("cfg.gguf: ", 0), 0u) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  };
  KV kv = baseConfig();
  kv[0].second = GGUFValue::string("llama");
  refused(kv, "general.architecture 'llama' is not GPT-2");
  for (size_t key = 1; key <= 6; ++key) { // each required key
    kv = baseConfig();
    const std::string name = kv[key].first;
    kv.erase(kv.begin() + long(key));
    refused(kv, "metadata '" + name + "' is missing");
  }
  kv = baseConfig();
  kv[3].second = GGUFValue::string("64");
  refused(kv, "metadata 'gpt2.embedding_length' must be an integer, not a string");
  kv = baseConfig();
  kv[1].second = u32(5000);
  refused(kv, "metadata 'gpt2.block_count' = 5000 is outside [1, 1024]");
  kv = baseConfig();
  kv[4].second = u32(200);
  refused(kv, "metadata 'gpt2.feed_forward_length' = 200 is not 4 x gpt2.embedding_length (256)");
  kv = baseConfig();
  kv[5].second = u32(5);
  refused(kv, "metadata 'gpt2.embedding_length' = 64 is not a multiple of 'gpt2.attention.head_count' 5");
  kv = baseConfig();
  kv[6].second = GGUFValue::real(GGUFType::F32, 0);
  refused(kv, "metadata 'gpt2.attention.layer_norm_epsilon' must be positive");
  kv = baseConfig();
  kv[6].second = u32(1);
  refused(kv, "metadata 'gpt2.attention.layer_norm_epsilon' must be a float, not a u32");
  kv = baseConfig();
  kv.emplace_back("gpt2.attention.head_count_kv", u32(2));
  refused(kv, "metadata 'gpt2.attention.head_count_kv' = 2 differs from 'gpt2.attention.head_count'");
  kv = baseConfig();
  kv.emplace_back("tokenizer.ggml.eos_token_id", u32(3));
  refused(kv, "metadata 'tokenizer.ggml.eos_token_id' = 3 is outside [0, 2]");
  kv = baseConfig();
  kv.pop_back();
  refused(kv, "no vocabulary");
}

TEST(GGUFGPT2, TensorNames) {
  EXPECT_EQ(gpt2NameFromGGUF("token_embd.weight"), "wte.weight");
  EXPECT_EQ(gpt2NameFromGGUF("position_embd.weight"), "wpe.weight");
  EXPECT_EQ(gpt2NameFromGGUF("output.weight"), "lm_head.weight");
  EXPECT_EQ(gpt2NameFromGGUF("output_norm.bias"), "ln_f.bias");
  EXPECT_EQ(gpt2NameFromGGUF("blk.11.attn_qkv.weight"), "h.11.attn.c_attn.weight");
  EXPECT_EQ(gpt2NameFromGGUF("blk.0.attn_output.bias"), "h.0.attn.c_proj.bias");
  EXPECT_EQ(gpt2NameFromGGUF("blk.3.ffn_up.weight"), "h.3.mlp.c_fc.weight");
  EXPECT_EQ(gpt2NameFromGGUF("blk.3.ffn_down.weight"), "h.3.mlp.c_proj.weight");
  EXPECT_EQ(gpt2NameFromGGUF("blk.2.ffn_norm.weight"), "h.2.ln_2.weight");
  EXPECT_EQ(gpt2NameFromGGUF("blk.x.attn_qkv.weight"), "");
  EXPECT_EQ(gpt2NameFromGGUF("blk..attn_qkv.weight"), "");
  EXPECT_EQ(gpt2NameFromGGUF("blk.0.attn_q.weight"), ""); // llama's, not GPT-2's
  for (const auto &[name, shape] : GPT2Model::expectedTensors(GPT2Config{}, {true, true}))
    EXPECT_EQ(gpt2NameFromGGUF(ggufNameFromGPT2(name)), name);
  EXPECT_EQ(ggufNameFromGPT2("h.0.attn.bias"), ""); // the mask buffer
}

// ---- A directory written as GGUF and read back --------------------------------

class TempRoot {
public:
  TempRoot() {
    char p[] = "/tmp/gguf_gpt2XXXXXX";
    EXPECT_TRUE(mkdtemp(p));
    path = p;
  }
  ~TempRoot() {
    std::string cleanup = "rm -rf '" + path + "'";
    EXPECT_EQ(std::system(cleanup.c_str()), 0);
  }
  std::string path;
};

GPT2Config small() {
  GPT2Config c;
  c.nLayer = 2;
  c.nEmbd = 64;
  c.nHead = 4;
  c.nCtx = 32;
  c.vocab = 96;
  c.eosToken = 95;
  return c;
}

TEST(GGUFGPT2, SameTensorsAsTheHuggingFaceDirectory) {
  TempRoot root;
  std::string dir = root.path + "/m", error;
  ASSERT_TRUE(writeRandomGPT2(dir, small(), 5, &error, {DType::F32, "transformer.", true}))
      << error;
  auto hf = ModelDir::open(dir, &error);
  ASSERT_TRUE(hf) << error;
  const auto &hfModel = static_cast<const GPT2Model &>(*hf);
  for (GGMLType t : {GGMLType::F32, GGMLType::F16, GGMLType::Q8_0, GGMLType::Q4_0}) {
    SCOPED_TRACE(ggmlTypeName(uint32_t(t)));
    std::string path = root.path + "/" + ggmlTypeName(uint32_t(t)) + ".gguf";
    ASSERT_TRUE(writeGPT2GGUF(hfModel, path, t, &error)) << error;
    {
      // llama.cpp's names and shapes (ne = {in, out}), no mask buffers.
      auto f = GGUFFile::open(path, &error);
      ASSERT_TRUE(f) << error;
      EXPECT_EQ(f->tensors().size(), GPT2Model::expectedTensors(small()).size());
      const GGUFTensorInfo *qkv = f->findTensor("blk.1.attn_qkv.weight");
      ASSERT_TRUE(qkv);
      EXPECT_EQ(qkv->ne, (std::vector<int64_t>{64, 192}));
      EXPECT_EQ(qkv->type, uint32_t(t));
      EXPECT_EQ(f->findTensor("blk.1.attn_qkv.bias")->type, uint32_t(GGMLType::F32));
      EXPECT_EQ(f->findTensor("blk.0.ffn_down.weight")->ne, (std::vector<int64_t>{256, 64}));
      EXPECT_FALSE(f->findTensor("output.weight")); // the converter writes none now
      EXPECT_EQ(f->find("gpt2.feed_forward_length")->u, 256u);
      EXPECT_EQ(f->find("tokenizer.ggml.eos_token_id")->u, 95u);
    }
    auto gg = ModelDir::open(path, &error);
    ASSERT_TRUE(gg) << error;
    ASSERT_EQ(gg->family(), ModelDir::Family::GPT2);
    const auto &ggModel = static_cast<const GPT2Model &>(*gg);
    EXPECT_TRUE(ggModel.layout().linearsOutIn);
    EXPECT_FALSE(ggModel.layout().untiedHead);
    EXPECT_EQ(ggModel.config().nLayer, 2);
    EXPECT_EQ(ggModel.config().eosToken, 95);
    EXPECT_FLOAT_EQ(float(ggModel.config().epsilon), float(small().epsilon));
    const TensorList want = GPT2Model::expectedTensors(small()),
                     stored = GPT2Model::expectedTensors(small(), ggModel.layout());
    for (size_t i = 0; i < want.size(); ++i) {
      const auto &[name, shape] = want[i];
      const Checkpoint::Tensor *x = hf->checkpoint().find(hf->fileName(name)),
                               *y = gg->checkpoint().find(name);
      ASSERT_TRUE(x && y) << name;
      ASSERT_EQ(y->shape, stored[i].second) << name;
      std::vector<float> u = hf->checkpoint().toF32(*x), v = gg->checkpoint().toF32(*y);
      ASSERT_EQ(u.size(), v.size()) << name;
      // The GGUF's [out, in] is the directory's Conv1D [in, out] transposed.
      if (shape.size() == 2 && name.rfind("h.", 0) == 0) {
        std::vector<float> tr(u.size());
        for (int64_t r = 0; r < shape[0]; ++r)
          for (int64_t k = 0; k < shape[1]; ++k)
            tr[size_t(k * shape[0] + r)] = u[size_t(r * shape[1] + k)];
        u = std::move(tr);
      }
      const bool exact = t == GGMLType::F32 || shape.size() == 1;
      double worst = 0, scale = 0;
      for (size_t k = 0; k < u.size(); ++k) {
        worst = std::max(worst, std::fabs(double(u[k]) - v[k]));
        scale = std::max(scale, std::fabs(double(u[k])));
      }
      if (exact) {
        EXPECT_EQ(std::memcmp(u.data(), v.data(), u.size() * 4), 0) << name;
        continue;
      }
      // F16: half an f16 ulp; Q8_0 / Q4_0: a step of the largest block.
      const double bound = t == GGMLType::F16    ? scale * 1e-3
                           : t == GGMLType::Q8_0 ? scale / 127
                                                 : scale / 7;
      EXPECT_LE(worst, bound) << name;
      EXPECT_GT(worst, 0) << name << ": not rounded at all";
      if (t == GGMLType::F16)
        continue;
      // The blocks as the compiler packs them: the file's codes and scales
      // along the stored rows, whose dequantization is toF32's exactly.
      std::optional<QuantScheme> scheme = gg->checkpoint().storedScheme(*y);
      ASSERT_TRUE(scheme) << name;
      EXPECT_EQ(scheme->group, 32);
      const int64_t rows = y->shape[0], cols = y->shape[1];
      QuantGroup q;
      size_t mismatches = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < cols / 32; ++g) {
          ASSERT_TRUE(gg->checkpoint().storedGroup(*y, r, g, q)) << name;
          for (int64_t k = 0; k < 32; ++k)
            mismatches += float(q.codes[size_t(k)]) * q.scale + q.min !=
                          v[size_t(r * cols + g * 32 + k)];
        }
      EXPECT_EQ(mismatches, 0u) << name;
    }
  }
}

// A width whose rows are not whole blocks cannot be written as Q8_0: one
// line naming the tensor; F16 can.
TEST(GGUFGPT2, RowsThatAreNotWholeBlocksAreRefused) {
  TempRoot root;
  GPT2Config c = small();
  c.nEmbd = 24;
  c.nHead = 3;
  std::string dir = root.path + "/m", error;
  ASSERT_TRUE(writeRandomGPT2(dir, c, 5, &error)) << error;
  auto hf = ModelDir::open(dir, &error);
  ASSERT_TRUE(hf) << error;
  const auto &m = static_cast<const GPT2Model &>(*hf);
  EXPECT_FALSE(writeGPT2GGUF(m, root.path + "/q8.gguf", GGMLType::Q8_0, &error));
  EXPECT_EQ(error, "tensor 'token_embd.weight': a row of 24 values is not whole Q8_0 blocks of 32");
  EXPECT_TRUE(writeGPT2GGUF(m, root.path + "/f16.gguf", GGMLType::F16, &error)) << error;
}

// What --type offers is what encodeGGML writes, asked of it.
TEST(GGUFWriter, WrittenTypesAreTheEncodersOwn) {
  std::vector<GGMLType> types = ggmlWrittenTypes();
  for (GGMLType t : {GGMLType::F32, GGMLType::F16, GGMLType::Q8_0, GGMLType::Q4_0})
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << ggmlTypeName(uint32_t(t));
  std::vector<uint8_t> bytes;
  for (GGMLType t : types)
    EXPECT_TRUE(encodeGGML(std::vector<float>(256, 0.5f), t, &bytes)) << ggmlTypeName(uint32_t(t));
  EXPECT_FALSE(ggmlWrittenType("q5_1"));
  EXPECT_EQ(ggmlWrittenType("q8_0"), GGMLType::Q8_0);
}

// ---- Malformed files ------------------------------------------------------------

/// The F16 GGUF of a small GPT-2, its metadata and tensors, for editing.
struct Parts {
  KV kv;
  std::vector<GGUFTensorData> tensors;
};
Parts smallParts(const std::string &root) {
  std::string dir = root + "/m", path = root + "/base.gguf", error;
  Parts p;
  EXPECT_TRUE(writeRandomGPT2(dir, small(), 5, &error)) << error;
  auto hf = ModelDir::open(dir, &error);
  EXPECT_TRUE(hf) << error;
  EXPECT_TRUE(writeGPT2GGUF(static_cast<const GPT2Model &>(*hf), path, GGMLType::F16, &error))
      << error;
  auto f = GGUFFile::open(path, &error);
  EXPECT_TRUE(f) << error;
  if (!f)
    return p;
  p.kv = f->metadata();
  for (const GGUFTensorInfo &t : f->tensors())
    p.tensors.push_back({t.name, t.ne, t.type,
                         std::vector<uint8_t>(f->data(t), f->data(t) + t.bytes)});
  return p;
}

void expectRefused(const std::string &path, const Parts &p, const std::string &needle) {
  std::string error;
  ASSERT_TRUE(writeGGUF(path, p.kv, p.tensors, &error)) << error;
  EXPECT_FALSE(ModelDir::open(path, &error)) << needle;
  EXPECT_EQ(error.rfind(path + ": ", 0), 0u) << error;
  EXPECT_NE(error.find(needle), std::string::npos) << "wanted: " << needle << "\n got: " << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(GGUFGPT2, MalformedFilesAreRefusedByTensor) {
  TempRoot root;
  const Parts base = smallParts(root.path);
  ASSERT_FALSE(base.tensors.empty());
  const std::string path = root.path + "/bad.gguf";
  auto edit = [&](const std::string &name, const std::function<void(GGUFTensorData &)> &f) {
    Parts p = base;
    for (GGUFTensorData &t : p.tensors)
      if (t.name == name)
        f(t);
    return p;
  };
  // Missing.
  Parts p = base;
  p.tensors.erase(std::remove_if(p.tensors.begin(), p.tensors.end(),
                                 [](const GGUFTensorData &t) {
                                   return t.name == "blk.1.ffn_up.bias";
                                 }),
                  p.tensors.end());
  expectRefused(path, p, "tensor 'blk.1.ffn_up.bias' is missing");
  // Conv1D's [in, out] where llama.cpp writes [out, in].
  p = edit("blk.0.attn_qkv.weight", [](GGUFTensorData &t) { t.ne = {192, 64}; });
  expectRefused(path, p, "tensor 'blk.0.attn_qkv.weight' has shape [64,192] but the metadata "
                         "implies [192,64]");
  // A type xfmr does not read (Q5_1: 24 bytes per 32 values).
  p = edit("blk.0.attn_output.weight", [](GGUFTensorData &t) {
    t.type = uint32_t(GGMLType::Q5_1);
    t.bytes.assign(size_t(64 * 64 / 32 * 24), 0);
  });
  expectRefused(path, p, "tensor 'blk.0.attn_output.weight' is Q5_1, which xfmr does not read");
  // A config larger than the file.
  p = base;
  for (auto &[key, value] : p.kv)
    if (key == "gpt2.block_count")
      value = u32(3);
  expectRefused(path, p, "tensor 'blk.2.attn_norm.weight' is missing");
}

// A file with output.weight (older converters' copy of token_embd) reads it
// as an LM head of its own.
TEST(GGUFGPT2, OutputWeightIsTheHead) {
  TempRoot root;
  Parts p = smallParts(root.path);
  ASSERT_FALSE(p.tensors.empty());
  for (const GGUFTensorData &t : std::vector<GGUFTensorData>(p.tensors))
    if (t.name == "token_embd.weight")
      p.tensors.push_back({"output.weight", t.ne, t.type, t.bytes});
  std::string path = root.path + "/out.gguf", error;
  ASSERT_TRUE(writeGGUF(path, p.kv, p.tensors, &error)) << error;
  auto m = ModelDir::open(path, &error);
  ASSERT_TRUE(m) << error;
  const auto &g = static_cast<const GPT2Model &>(*m);
  EXPECT_TRUE(g.layout().untiedHead);
  const Checkpoint::Tensor *head = m->checkpoint().find("lm_head.weight");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->shape, (std::vector<int64_t>{96, 64}));
  EXPECT_EQ(m->checkpoint().toF32(*head), m->load("wte.weight"));
  // A head of the wrong shape is refused by name.
  for (GGUFTensorData &t : p.tensors)
    if (t.name == "output.weight") {
      t.ne = {64, 95};
      t.bytes.resize(64 * 95 * 2);
    }
  expectRefused(path, p, "tensor 'output.weight' has shape [95,64] but the metadata implies [96,64]");
}
} // namespace

namespace {
// The committed fuzz seed (test/fuzz/make_gguf_seeds.py) is a whole GPT-2,
// so fuzz_gguf starts from files that reach the GPT-2 reader.
TEST(GGUFGPT2, TheFuzzSeedIsAGPT2) {
  std::string error;
  auto m = ModelDir::open(std::string(XFMR_GGUF_SEEDS_DIR) + "/small-gpt2.gguf", &error);
  ASSERT_TRUE(m) << error;
  ASSERT_EQ(m->family(), ModelDir::Family::GPT2);
  const auto &g = static_cast<const GPT2Model &>(*m);
  EXPECT_EQ(g.config().nEmbd, 32);
  EXPECT_EQ(g.config().vocab, 6);
  EXPECT_EQ(g.config().eosToken, 5);
  EXPECT_EQ(m->tokenizerFiles().size(), 2u);
  const Checkpoint::Tensor *qkv = m->checkpoint().find("h.0.attn.c_attn.weight");
  ASSERT_TRUE(qkv);
  EXPECT_EQ(qkv->shape, (std::vector<int64_t>{96, 32}));
  EXPECT_TRUE(m->checkpoint().storedScheme(*qkv));
}
} // namespace

// The GGUF reader and writer: every metadata value type (arrays, nested
// arrays, strings) and tensor infos round-trip; every prefix of a valid
// file and each kind of hostile field is refused with one line naming the
// file and the key or tensor, never a crash or a file-sized allocation.
#include "xfmr/import/ggml_blocks.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_checkpoint.h"
#include "xfmr/import/llama.h"
#include "xfmr/import/model_dir.h"
#include "xfmr/io/files.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <fstream>
#include <set>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

using namespace xfmr::io;

namespace {
using KV = std::vector<std::pair<std::string, GGUFValue>>;

KV everyType() {
  KV kv;
  kv.emplace_back("general.architecture", GGUFValue::string("llama"));
  kv.emplace_back("u8", GGUFValue::unsignedInt(GGUFType::U8, 200));
  kv.emplace_back("i8", GGUFValue::signedInt(GGUFType::I8, -100));
  kv.emplace_back("u16", GGUFValue::unsignedInt(GGUFType::U16, 60000));
  kv.emplace_back("i16", GGUFValue::signedInt(GGUFType::I16, -30000));
  kv.emplace_back("u32", GGUFValue::unsignedInt(GGUFType::U32, 4000000000u));
  kv.emplace_back("i32", GGUFValue::signedInt(GGUFType::I32, -2000000000));
  kv.emplace_back("u64", GGUFValue::unsignedInt(GGUFType::U64, 1ull << 63));
  kv.emplace_back("i64", GGUFValue::signedInt(GGUFType::I64, -(1ll << 62)));
  kv.emplace_back("f32", GGUFValue::real(GGUFType::F32, 0.5));
  kv.emplace_back("f64", GGUFValue::real(GGUFType::F64, 1e-300));
  kv.emplace_back("bool", GGUFValue::boolean(true));
  kv.emplace_back("empty", GGUFValue::string(""));
  kv.emplace_back("tokenizer.ggml.tokens", GGUFValue::strings({"<s>", "▁a", "", "\xF0\x9F\x98\x80"}));
  kv.emplace_back("scores", GGUFValue::array(GGUFType::F32, {GGUFValue::real(GGUFType::F32, -1),
                                                             GGUFValue::real(GGUFType::F32, 2)}));
  kv.emplace_back("nested", GGUFValue::array(GGUFType::Array,
                                             {GGUFValue::array(GGUFType::I32,
                                                               {GGUFValue::signedInt(GGUFType::I32, 7)}),
                                              GGUFValue::array(GGUFType::I32, {})}));
  kv.emplace_back("general.alignment", GGUFValue::unsignedInt(GGUFType::U32, 64));
  return kv;
}

std::vector<GGUFTensorData> someTensors() {
  std::vector<GGUFTensorData> t(3);
  t[0].name = "token_embd.weight";
  t[0].ne = {64, 3};
  t[0].type = uint32_t(GGMLType::F32);
  t[0].bytes.resize(64 * 3 * 4);
  t[1].name = "blk.0.attn_q.weight";
  t[1].ne = {64, 2};
  t[1].type = uint32_t(GGMLType::Q8_0);
  t[1].bytes.resize(2 * 2 * 34);
  t[2].name = "output_norm.weight";
  t[2].ne = {64};
  t[2].type = uint32_t(GGMLType::F16);
  t[2].bytes.resize(64 * 2);
  for (auto &x : t)
    for (size_t i = 0; i < x.bytes.size(); ++i)
      x.bytes[i] = uint8_t(i * 7 + x.name.size());
  return t;
}

std::vector<uint8_t> validFile() {
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_TRUE(encodeGGUF(everyType(), someTensors(), &bytes, &error)) << error;
  return bytes;
}

void expectSameValue(const GGUFValue &a, const GGUFValue &b, const std::string &key) {
  EXPECT_EQ(a.type, b.type) << key;
  EXPECT_EQ(a.u, b.u) << key;
  EXPECT_EQ(a.i, b.i) << key;
  if (a.type == GGUFType::F32)
    EXPECT_EQ(float(a.f), float(b.f)) << key;
  else
    EXPECT_EQ(a.f, b.f) << key;
  EXPECT_EQ(a.s, b.s) << key;
  ASSERT_EQ(a.elements.size(), b.elements.size()) << key;
  if (a.type == GGUFType::Array)
    EXPECT_EQ(a.elementType, b.elementType) << key;
  for (size_t i = 0; i < a.elements.size(); ++i)
    expectSameValue(a.elements[i], b.elements[i], key + "[" + std::to_string(i) + "]");
}

TEST(GGUF, RoundTripsEveryValueTypeAndTensor) {
  std::vector<uint8_t> bytes = validFile();
  std::string error;
  auto f = GGUFFile::parse(bytes.data(), bytes.size(), "m.gguf", &error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 64u);
  KV kv = everyType();
  ASSERT_EQ(f->metadata().size(), kv.size());
  for (size_t i = 0; i < kv.size(); ++i) {
    EXPECT_EQ(f->metadata()[i].first, kv[i].first);
    ASSERT_TRUE(f->find(kv[i].first));
    expectSameValue(*f->find(kv[i].first), kv[i].second, kv[i].first);
  }
  EXPECT_FALSE(f->find("missing"));
  std::vector<GGUFTensorData> t = someTensors();
  ASSERT_EQ(f->tensors().size(), t.size());
  for (const GGUFTensorData &want : t) {
    const GGUFTensorInfo *got = f->findTensor(want.name);
    ASSERT_TRUE(got) << want.name;
    EXPECT_EQ(got->ne, want.ne);
    EXPECT_EQ(got->type, want.type);
    EXPECT_EQ(got->offset % 64, 0u);
    ASSERT_EQ(got->bytes, want.bytes.size());
    EXPECT_EQ(std::memcmp(f->data(*got), want.bytes.data(), want.bytes.size()), 0) << want.name;
  }
  EXPECT_EQ(ggmlTypeName(uint32_t(GGMLType::Q4_K)), "Q4_K");
  EXPECT_EQ(ggmlTypeName(99), "type 99");
}

TEST(GGUF, WritesAndOpensAFile) {
  char dir[] = "/tmp/gguf_testXXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string path = std::string(dir) + "/m.gguf", error;
  ASSERT_TRUE(writeGGUF(path, everyType(), someTensors(), &error)) << error;
  auto f = GGUFFile::open(path, &error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->find("general.architecture")->s, "llama");
  f.reset();
  unlink(path.c_str());
  rmdir(dir);
  EXPECT_FALSE(GGUFFile::open(path, &error));
  EXPECT_NE(error.find(path), std::string::npos) << error;
}

TEST(GGUF, EveryPrefixIsRefusedWithAReason) {
  std::vector<uint8_t> bytes = validFile();
  // Cut inside the header, metadata and tensor infos; cuts in the data
  // section must name the tensor that runs past the end.
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string error;
    auto f = GGUFFile::parse(bytes.data(), n, "cut.gguf", &error);
    ASSERT_FALSE(f) << "accepted a file cut at " << n << " of " << bytes.size();
    EXPECT_EQ(error.rfind("cut.gguf: ", 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

/// The valid file with the 8 bytes at `at` replaced by `v`.
template <typename T>
std::vector<uint8_t> patched(std::vector<uint8_t> bytes, size_t at, T v) {
  std::memcpy(bytes.data() + at, &v, sizeof v);
  return bytes;
}

/// Byte offset of the first occurrence of `s` (a key or tensor name) in
/// the file, just past its 8-byte length.
size_t offsetOf(const std::vector<uint8_t> &bytes, const std::string &s) {
  auto it = std::search(bytes.begin(), bytes.end(), s.begin(), s.end());
  EXPECT_NE(it, bytes.end()) << s;
  return size_t(it - bytes.begin());
}

void expectRefused(const std::vector<uint8_t> &bytes, const std::string &needle) {
  std::string error;
  auto f = GGUFFile::parse(bytes.data(), bytes.size(), "bad.gguf", &error);
  EXPECT_FALSE(f) << "accepted; wanted: " << needle;
  EXPECT_NE(error.find(needle), std::string::npos) << "wanted: " << needle << "\n got: " << error;
  EXPECT_EQ(error.rfind("bad.gguf: ", 0), 0u) << error;
}

TEST(GGUF, HostileFieldsAreRefusedByName) {
  const std::vector<uint8_t> good = validFile();
  // Header.
  std::vector<uint8_t> b = good;
  b[0] = 'X';
  expectRefused(b, "not a GGUF file");
  expectRefused(patched<uint32_t>(good, 4, 1), "GGUF version 1");
  expectRefused(patched<uint32_t>(good, 4, 0x03000000), "big-endian");
  expectRefused(patched<uint32_t>(good, 4, 7), "unknown GGUF version 7");
  expectRefused(patched<uint64_t>(good, 8, uint64_t(1) << 40), "tensors cannot fit");
  expectRefused(patched<uint64_t>(good, 16, uint64_t(1) << 60), "metadata entries cannot fit");

  // Metadata: a string length, an array length, a type, a bool, a duplicate.
  size_t arch = offsetOf(good, "general.architecture");
  expectRefused(patched<uint64_t>(good, arch - 8, uint64_t(1) << 62), "runs past the end");
  size_t tokens = offsetOf(good, "tokenizer.ggml.tokens") + 21; // past the key
  expectRefused(patched<uint64_t>(good, tokens + 8, uint64_t(1) << 58),
                "metadata 'tokenizer.ggml.tokens': an array of");
  expectRefused(patched<uint32_t>(good, tokens + 4, 99), "array of unknown value type 99");
  expectRefused(patched<uint32_t>(good, tokens, 99), "metadata 'tokenizer.ggml.tokens': unknown value type 99");
  size_t u8 = offsetOf(good, "u8") + 2;
  expectRefused(patched<uint32_t>(good, u8, 77), "metadata 'u8': unknown value type 77");
  size_t boolean = offsetOf(good, "bool") + 4 + 4;
  expectRefused(patched<uint8_t>(good, boolean, 2), "a bool must be 0 or 1");
  b = good;
  std::memcpy(b.data() + offsetOf(good, "i16"), "u16", 3); // two keys "u16"
  expectRefused(b, "metadata 'u16' appears twice");
  size_t align = offsetOf(good, "general.alignment") + 17 + 4;
  expectRefused(patched<uint32_t>(good, align, 48), "'general.alignment' must be a u32 power of two");

  // Tensor infos.
  size_t q = offsetOf(good, "blk.0.attn_q.weight") + 19; // n_dims
  expectRefused(patched<uint32_t>(good, q, 5), "tensor 'blk.0.attn_q.weight': 5 dimensions");
  expectRefused(patched<uint32_t>(good, q, 0), "0 dimensions");
  expectRefused(patched<int64_t>(good, q + 4, -3), "dimension 0 is -3");
  expectRefused(patched<int64_t>(good, q + 4, 48), "not whole Q8_0 blocks of 32");
  expectRefused(patched<int64_t>(good, q + 12, int64_t(1) << 40), "need more bytes than the file");
  expectRefused(patched<uint32_t>(good, q + 20, 16), "ggml type 16, whose block layout");
  expectRefused(patched<uint64_t>(good, q + 24, 8), "offset 8 is not a multiple of the alignment 64");
  expectRefused(patched<uint64_t>(good, q + 24, uint64_t(1) << 20),
                "tensor 'blk.0.attn_q.weight': its 136 bytes at data offset 1048576 run past");
  std::vector<GGUFTensorData> twice = someTensors();
  twice[2].name = twice[0].name;
  twice[2].ne = twice[0].ne;
  twice[2].type = twice[0].type;
  twice[2].bytes = twice[0].bytes;
  std::string error;
  ASSERT_TRUE(encodeGGUF({}, twice, &b, &error)) << error;
  expectRefused(b, "tensor 'token_embd.weight': appears twice");
}

TEST(GGUF, NamesFromTheFileStayOnOneLine) {
  // A tensor name with a newline, in a file refused for its offset: the
  // message shows the name escaped (found by fuzz_gguf).
  std::vector<GGUFTensorData> t = someTensors();
  t[0].name = "evil\nname\x01";
  std::vector<uint8_t> b;
  std::string error;
  ASSERT_TRUE(encodeGGUF({}, t, &b, &error)) << error;
  size_t at = offsetOf(b, "evil\nname\x01") + 10 + 4 + 16 + 4; // its offset field
  expectRefused(patched<uint64_t>(b, at, 8), "tensor 'evil\\x0aname\\x01': offset 8");
  EXPECT_EQ(xfmr::io::quoted(std::string(200, 'a')), "'" + std::string(40, 'a') + "'...");
}

TEST(GGUF, DeepNestingIsRefused) {
  GGUFValue v = GGUFValue::array(GGUFType::I32, {});
  for (int d = 0; d < 6; ++d)
    v = GGUFValue::array(GGUFType::Array, {v});
  std::vector<uint8_t> bytes;
  std::string error;
  ASSERT_TRUE(encodeGGUF({{"deep", v}}, {}, &bytes, &error)) << error;
  expectRefused(bytes, "metadata 'deep");
  expectRefused(bytes, "nested deeper than 4 levels");
}

TEST(GGUF, WriterRefusesBytesThatDoNotMatchTheType) {
  std::vector<GGUFTensorData> t = someTensors();
  t[1].bytes.pop_back();
  std::vector<uint8_t> bytes;
  std::string error;
  EXPECT_FALSE(encodeGGUF({}, t, &bytes, &error));
  EXPECT_NE(error.find("tensor 'blk.0.attn_q.weight': 135 bytes, its Q8_0 shape needs 136"),
            std::string::npos)
      << error;
}
TEST(GGUF, ReadsTheFuzzSeeds) {
  // make_gguf_seeds.py writes them as llama.cpp lays a file out, with an
  // independent encoder (Python's struct), so they also check this reader
  // against more than its own writer.
  std::string error;
  auto f = GGUFFile::open(std::string(XFMR_GGUF_SEEDS_DIR) + "/small-llama.gguf", &error);
  ASSERT_TRUE(f) << error;
  EXPECT_EQ(f->find("general.architecture")->s, "llama");
  EXPECT_EQ(f->find("llama.attention.head_count_kv")->u, 2u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->elements.size(), 14u);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->elements[11].s, "\xE2\x96\x81" "a"); // ▁a
  EXPECT_FLOAT_EQ(float(f->find("llama.attention.layer_norm_rms_epsilon")->f), 1e-5f);
  ASSERT_EQ(f->tensors().size(), 4u);
  const GGUFTensorInfo *q = f->findTensor("blk.0.attn_q.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->type, uint32_t(GGMLType::Q8_0));
  EXPECT_EQ(q->bytes, 68u);
  EXPECT_EQ(f->data(*q)[2 + 3], 15); // block 0, code 3 = 3 * 5
  auto v2 = GGUFFile::open(std::string(XFMR_GGUF_SEEDS_DIR) + "/metadata-only-v2.gguf", &error);
  ASSERT_TRUE(v2) << error;
  EXPECT_EQ(v2->version(), 2u);
  EXPECT_TRUE(v2->tensors().empty());
}
// A file llama.cpp's own llama-quantize wrote (Q4_K_M of a random Llama,
// data/README.md): every tensor dequantizes to what llama.cpp's ggml makes
// of it, bit for bit (hashes recorded with ggml's to_float,
// data/ggml_dequant_hashes.c), and the K-quant tensors, which no xfmr
// scheme holds as they are, say what they convert to.
TEST(GGUFLlama, KQuantsDequantizeAsGGMLDoes) {
  const std::string dir = XFMR_IMPORT_DATA_DIR;
  std::string error;
  auto m = ModelDir::open(dir + "/tiny-q4_k_m.gguf", &error);
  ASSERT_TRUE(m) << error;
  std::ifstream expected(dir + "/tiny-q4_k_m.expected");
  std::string name, type, hash;
  std::set<std::string> types;
  int checked = 0;
  while (expected >> name >> type >> hash) {
    const Checkpoint::Tensor *t = m->checkpoint().find(llamaNameFromGGUF(name));
    ASSERT_TRUE(t) << name;
    std::vector<float> v = m->checkpoint().toF32(*t);
    uint64_t h = 1469598103934665603ull;
    const auto *p = reinterpret_cast<const unsigned char *>(v.data());
    for (size_t k = 0; k < v.size() * sizeof(float); ++k)
      h = (h ^ p[k]) * 1099511628211ull;
    char mine[17];
    std::snprintf(mine, sizeof mine, "%016llx", static_cast<unsigned long long>(h));
    EXPECT_EQ(mine, hash) << name << " (" << type << ")";
    // K-quants are read natively: every stored group, dequantized as the
    // compiled model's decoders do, is the file's value bit for bit.
    std::optional<QuantScheme> s = m->checkpoint().storedScheme(*t);
    if (type == "q4_K" || type == "q6_K") {
      ASSERT_TRUE(s) << name;
      EXPECT_TRUE(sameScheme(*s, type == "q4_K" ? q4KScheme() : q6KScheme())) << name;
      const int64_t rows = t->shape[0], cols = t->shape[1];
      QuantGroup q;
      int64_t mismatches = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < cols / s->group; ++g) {
          ASSERT_TRUE(m->checkpoint().storedGroup(*t, r, g, q)) << name;
          for (int64_t i = 0; i < s->group; ++i) {
            float w = dequantizeCode(q, size_t(i), *s);
            float want = v[size_t(r * cols + g * s->group + i)];
            mismatches += std::memcmp(&w, &want, 4) != 0;
          }
        }
      EXPECT_EQ(mismatches, 0) << name;
    }
    types.insert(type);
    ++checked;
  }
  EXPECT_GE(checked, 10);
  EXPECT_TRUE(types.count("q4_K") && types.count("q6_K")) << "the file has both K-quants";
}

// The writer's K-quant blocks (xfmr's quantizer, llama.cpp's layout): what
// ggml's dequantizer reads back is what the quantizer meant, bit for bit,
// group by group as the compiler packs them; and the rounding error is a
// K-quant's (random normal rows, zero and one-signed blocks among them).
TEST(GGUFBlocks, KQuantWriterRoundTrips) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(256 * 6);
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t blk = i / 256;
    float v = normal(rng);
    x[i] = blk == 1 ? 0.f : blk == 2 ? -std::fabs(v) : blk == 3 ? 3 + std::fabs(v) : v;
  }
  for (GGMLType t : {GGMLType::Q4_K, GGMLType::Q6_K}) {
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(encodeGGML(x, t, &bytes));
    ASSERT_EQ(bytes.size(), x.size() / 256 * (t == GGMLType::Q4_K ? 144 : 210));
    std::vector<float> back = dequantizeGGML(bytes.data(), x.size(), t);
    const QuantScheme s = *ggmlStoredScheme(t);
    std::vector<QuantGroup> run = quantizeRun(x.data(), int64_t(x.size()), 1, s);
    size_t mismatches = 0;
    QuantGroup q;
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t g = i / size_t(s.group);
      float meant = dequantizeCode(run[g], i % size_t(s.group), s);
      ggmlStoredGroup(bytes.data(), int64_t(g), t, q);
      float stored = dequantizeCode(q, i % size_t(s.group), s);
      mismatches += std::memcmp(&meant, &back[i], 4) != 0 || std::memcmp(&stored, &back[i], 4) != 0;
    }
    EXPECT_EQ(mismatches, 0u) << ggmlTypeName(uint32_t(t));
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      num += (double(back[i]) - x[i]) * (double(back[i]) - x[i]);
      den += double(x[i]) * x[i];
    }
    // Q4_K: 15 steps over each group's range; Q6_K: 63 steps.
    EXPECT_LT(std::sqrt(num / den), t == GGMLType::Q4_K ? 0.08 : 0.02) << ggmlTypeName(uint32_t(t));
    for (size_t i = 256; i < 512; ++i)
      EXPECT_EQ(back[i], 0.f) << "a zero block stays zero";
  }
}

TEST(GGUFLlama, ConfigFromMetadata) {
  std::string error;
  auto f = GGUFFile::open(std::string(XFMR_GGUF_SEEDS_DIR) + "/small-llama.gguf", &error);
  ASSERT_TRUE(f) << error;
  LlamaConfig c;
  ASSERT_TRUE(llamaConfigFromGGUF(*f, c, &error)) << error;
  EXPECT_EQ(c.modelType, "llama");
  EXPECT_EQ(c.layers, 1);
  EXPECT_EQ(c.hidden, 32);
  EXPECT_EQ(c.intermediate, 64);
  EXPECT_EQ(c.heads, 4);
  EXPECT_EQ(c.kvHeads, 2);
  EXPECT_EQ(c.headDim, 8);
  EXPECT_EQ(c.context, 64);
  EXPECT_EQ(c.vocab, 14); // the token list, as many as token_embd's rows
  EXPECT_FLOAT_EQ(float(c.rmsEpsilon), 1e-5f);
  EXPECT_EQ(c.ropeTheta, 10000);
  EXPECT_TRUE(c.tieEmbeddings); // no output.weight
  EXPECT_EQ(c.bos, 1);
  EXPECT_EQ(c.eos, 2);
}

/// A GGUF of metadata `kv` and no tensors, parsed.
std::unique_ptr<GGUFFile> metadataFile(const KV &kv, std::vector<uint8_t> &bytes) {
  std::string error;
  EXPECT_TRUE(encodeGGUF(kv, {}, &bytes, &error)) << error;
  auto f = GGUFFile::parse(bytes.data(), bytes.size(), "cfg.gguf", &error);
  EXPECT_TRUE(f) << error;
  return f;
}

TEST(GGUFLlama, BadConfigsAreRefusedByKey) {
  auto base = [] {
    KV kv;
    kv.emplace_back("general.architecture", GGUFValue::string("llama"));
    kv.emplace_back("llama.block_count", GGUFValue::unsignedInt(GGUFType::U32, 2));
    kv.emplace_back("llama.embedding_length", GGUFValue::unsignedInt(GGUFType::U32, 64));
    kv.emplace_back("llama.feed_forward_length", GGUFValue::unsignedInt(GGUFType::U32, 96));
    kv.emplace_back("llama.attention.head_count", GGUFValue::unsignedInt(GGUFType::U32, 4));
    kv.emplace_back("llama.context_length", GGUFValue::unsignedInt(GGUFType::U32, 128));
    kv.emplace_back("tokenizer.ggml.tokens", GGUFValue::strings({"a", "b", "c"}));
    return kv;
  };
  std::vector<uint8_t> bytes;
  LlamaConfig c;
  std::string error;
  ASSERT_TRUE(llamaConfigFromGGUF(*metadataFile(base(), bytes), c, &error)) << error;
  EXPECT_EQ(c.kvHeads, 4);
  EXPECT_EQ(c.vocab, 3);
  auto refused = [&](KV kv, const std::string &needle) {
    std::vector<uint8_t> b;
    auto f = metadataFile(kv, b);
    LlamaConfig cc;
    std::string e;
    EXPECT_FALSE(llamaConfigFromGGUF(*f, cc, &e)) << needle;
    EXPECT_NE(e.find(needle), std::string::npos) << "wanted: " << needle << "\n got: " << e;
    EXPECT_EQ(e.rfind("cfg.gguf: ", 0), 0u) << e;
  };
  KV kv = base();
  kv[0].second = GGUFValue::string("falcon");
  refused(kv, "general.architecture 'falcon' is not a Llama-family architecture");
  kv = base();
  kv.erase(kv.begin() + 1);
  refused(kv, "metadata 'llama.block_count' is missing");
  kv = base();
  kv[2].second = GGUFValue::string("64");
  refused(kv, "metadata 'llama.embedding_length' must be an integer, not a string");
  kv = base();
  kv[4].second = GGUFValue::unsignedInt(GGUFType::U32, 5000);
  refused(kv, "metadata 'llama.attention.head_count' = 5000 is outside [1, 1024]");
  kv = base();
  kv.emplace_back("llama.attention.head_count_kv", GGUFValue::unsignedInt(GGUFType::U32, 3));
  refused(kv, "'llama.attention.head_count' 4 is not a multiple of 'llama.attention.head_count_kv' 3");
  kv = base();
  kv.emplace_back("llama.rope.scaling.type", GGUFValue::string("yarn"));
  refused(kv, "metadata 'llama.rope.scaling.type' 'yarn' is not supported");
  kv = base();
  kv.emplace_back("llama.rope.dimension_count", GGUFValue::unsignedInt(GGUFType::U32, 8));
  refused(kv, "partial rotary is not supported");
  kv = base();
  kv.emplace_back("tokenizer.ggml.bos_token_id", GGUFValue::unsignedInt(GGUFType::U32, 3));
  refused(kv, "metadata 'tokenizer.ggml.bos_token_id' = 3 is outside [0, 2]");
  kv = base();
  kv.erase(kv.begin() + 6);
  refused(kv, "no vocabulary");
}

TEST(GGUFLlama, TensorNames) {
  EXPECT_EQ(llamaNameFromGGUF("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(llamaNameFromGGUF("output.weight"), "lm_head.weight");
  EXPECT_EQ(llamaNameFromGGUF("blk.12.attn_k.weight"), "model.layers.12.self_attn.k_proj.weight");
  EXPECT_EQ(llamaNameFromGGUF("blk.0.ffn_down.weight"), "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(llamaNameFromGGUF("blk.3.attn_q.bias"), "model.layers.3.self_attn.q_proj.bias");
  EXPECT_EQ(llamaNameFromGGUF("blk.x.attn_k.weight"), "");
  EXPECT_EQ(llamaNameFromGGUF("blk..attn_k.weight"), "");
  EXPECT_EQ(llamaNameFromGGUF("blk.1.ffn_gate_exps.weight"), ""); // MoE: not this family
  EXPECT_EQ(llamaNameFromGGUF("rope_freqs.weight"), "");
}

// The un-permutation is right when llama.cpp's rotary (adjacent pairs) on
// the permuted rows equals the permuted Hugging Face rotary (rotate-half)
// on the original rows, for every head and position.
TEST(GGUFLlama, QKPermutationMatchesTheRotaries) {
  for (int64_t hd : {4, 8, 64}) {
    const int64_t heads = 3, rows = heads * hd;
    std::vector<double> x(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r)
      x[size_t(r)] = std::sin(double(r) * 1.7 + 0.3);
    auto permute = [&](const std::vector<double> &hf) {
      std::vector<double> g(hf.size());
      for (int64_t r = 0; r < rows; ++r)
        g[size_t(r)] = hf[size_t(hfRowOfGGUFRow(r, hd))];
      return g;
    };
    const double pos = 5;
    auto angle = [&](int64_t i) { return pos * std::pow(10000.0, -2.0 * double(i) / double(hd)); };
    std::vector<double> neox = x, norm = permute(x);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < hd / 2; ++i) {
        double cs = std::cos(angle(i)), sn = std::sin(angle(i));
        size_t a = size_t(h * hd + i), b = size_t(h * hd + i + hd / 2);
        double xa = neox[a], xb = neox[b];
        neox[a] = xa * cs - xb * sn;
        neox[b] = xb * cs + xa * sn;
        size_t p = size_t(h * hd + 2 * i), q = p + 1;
        double ya = norm[p], yb = norm[q];
        norm[p] = ya * cs - yb * sn;
        norm[q] = yb * cs + ya * sn;
      }
    std::vector<double> want = permute(neox);
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_NEAR(norm[size_t(r)], want[size_t(r)], 1e-12) << "head_dim " << hd << " row " << r;
    // And it is a permutation of each head's rows.
    std::vector<int> seen(static_cast<size_t>(rows), 0);
    for (int64_t r = 0; r < rows; ++r) {
      int64_t s = hfRowOfGGUFRow(r, hd);
      EXPECT_EQ(s / hd, r / hd);
      ++seen[size_t(s)];
    }
    for (int n : seen)
      EXPECT_EQ(n, 1);
  }
}
// A Hugging Face Llama directory and its GGUF (written as llama.cpp's
// converter writes one) open to the same tensors: F16 bit for bit, through
// the names, shapes and q/k row permutation; Q8_0 and Q4_0 within half a
// quantization step, and as models of the same family and shape.
std::string randomLlamaDir(const std::string &root, const std::string &type, bool gqa) {
  LlamaConfig c;
  c.modelType = type;
  c.layers = 2;
  c.hidden = 64;
  c.intermediate = 96;
  c.heads = 4;
  c.kvHeads = gqa ? 2 : 4;
  c.headDim = 16;
  c.context = 32;
  c.vocab = 96;
  c.qkvBias = type == "qwen2";
  std::string dir = root + "/" + type + (gqa ? "-gqa" : ""), error;
  EXPECT_TRUE(writeRandomLlama(dir, c, 7, &error)) << error;
  return dir;
}

TEST(GGUFLlama, SameTensorsAsTheHuggingFaceDirectory) {
  char root[] = "/tmp/gguf_llamaXXXXXX";
  ASSERT_TRUE(mkdtemp(root));
  for (auto [type, gqa] : {std::pair<const char *, bool>{"llama", true}, {"llama", false},
                           {"qwen2", true}}) {
    std::string dir = randomLlamaDir(root, type, gqa), error;
    auto hf = ModelDir::open(dir, &error);
    ASSERT_TRUE(hf) << error;
    const auto &hfLlama = static_cast<const LlamaModel &>(*hf);
    for (GGMLType t : {GGMLType::F16, GGMLType::Q8_0, GGMLType::Q4_0}) {
      std::string path = dir + "/" + ggmlTypeName(uint32_t(t)) + ".gguf";
      ASSERT_TRUE(writeLlamaGGUF(hfLlama, path, t, &error)) << error;
      auto gg = ModelDir::open(path, &error);
      ASSERT_TRUE(gg) << error;
      ASSERT_EQ(gg->family(), ModelDir::Family::Llama);
      const LlamaConfig &a = hfLlama.config(), &b = static_cast<const LlamaModel &>(*gg).config();
      EXPECT_EQ(b.modelType, a.modelType);
      EXPECT_EQ(b.kvHeads, a.kvHeads);
      EXPECT_EQ(b.headDim, a.headDim);
      EXPECT_EQ(b.qkvBias, a.qkvBias);
      EXPECT_EQ(b.tieEmbeddings, a.tieEmbeddings);
      EXPECT_FLOAT_EQ(float(b.rmsEpsilon), float(a.rmsEpsilon));
      for (const auto &[name, shape] : LlamaModel::expectedTensors(a)) {
        const Checkpoint::Tensor *x = hf->checkpoint().find(name), *y = gg->checkpoint().find(name);
        ASSERT_TRUE(x && y) << name;
        EXPECT_EQ(y->shape, shape) << name;
        std::vector<float> u = hf->checkpoint().toF32(*x), v = gg->checkpoint().toF32(*y);
        ASSERT_EQ(u.size(), v.size()) << name;
        if (t == GGMLType::F16 || shape.size() == 1) {
          EXPECT_EQ(std::memcmp(u.data(), v.data(), u.size() * 4), 0) << name << " " << type;
          continue;
        }
        // Quantized: Q8_0 within half a step of the block's scale, plus the
        // f16 rounding of the scale times the code (llama.cpp rounds with the
        // f32 scale and stores it as f16: up to 127 x 2^-11 steps more);
        // Q4_0 within one step plus 8 x 2^-11 (its codes reach -8 d but only
        // +7 d, so the far end of the other sign clips).
        double worst = 0;
        for (size_t blk = 0; blk < u.size(); blk += 32) {
          float amax = 0;
          for (size_t i = blk; i < blk + 32; ++i)
            amax = std::max(amax, std::fabs(u[i]));
          double step = t == GGMLType::Q8_0 ? amax / 127.0 : amax / 8.0;
          for (size_t i = blk; i < blk + 32; ++i)
            worst = std::max(worst, std::fabs(double(u[i]) - v[i]) /
                                        (step * (t == GGMLType::Q8_0 ? 0.5 + 127.0 / 2048 : 1.0 + 8.0 / 2048) *
                                             1.001 + 1e-30));
        }
        EXPECT_LE(worst, 1.0) << name << " " << ggmlTypeName(uint32_t(t));
        // The blocks as the compiler packs them: the file's codes and
        // scales, whose dequantization is toF32's, bit for bit, row by row
        // in Hugging Face's order (q/k rows permuted back).
        std::optional<QuantScheme> scheme = gg->checkpoint().storedScheme(*y);
        ASSERT_TRUE(scheme) << name;
        EXPECT_EQ(scheme->format,
                  t == GGMLType::Q8_0 ? WeightFormat::Int8 : WeightFormat::Int4);
        EXPECT_EQ(scheme->group, 32);
        EXPECT_TRUE(scheme->f16Scales && !scheme->zeroPoint);
        const int64_t cols = shape[1];
        QuantGroup q;
        size_t mismatches = 0;
        for (int64_t r = 0; r < shape[0]; ++r)
          for (int64_t g = 0; g < cols / 32; ++g) {
            ASSERT_TRUE(gg->checkpoint().storedGroup(*y, r, g, q)) << name;
            ASSERT_EQ(q.codes.size(), 32u);
            for (int64_t i = 0; i < 32; ++i) {
              float w = float(q.codes[size_t(i)]) * q.scale + q.min;
              mismatches += w != v[size_t(r * cols + g * 32 + i)];
            }
          }
        EXPECT_EQ(mismatches, 0u) << name << " " << ggmlTypeName(uint32_t(t));
        EXPECT_FALSE(gg->checkpoint().storedGroup(*y, shape[0], 0, q)) << "row past the end";
        EXPECT_FALSE(gg->checkpoint().storedGroup(*y, 0, cols / 32, q)) << "group past the end";
      }
    }
  }
  std::string cleanup = std::string("rm -rf ") + root;
  EXPECT_EQ(std::system(cleanup.c_str()), 0);
}

TEST(GGUFLlama, UnreadTypesAndArchitecturesAreRefused) {
  char root[] = "/tmp/gguf_llamaXXXXXX";
  ASSERT_TRUE(mkdtemp(root));
  std::vector<uint8_t> bytes;
  std::string error, path = std::string(root) + "/k.gguf";
  // A Q5_K matrix (176 bytes per 256) among the family's tensors.
  KV kv;
  kv.emplace_back("general.architecture", GGUFValue::string("llama"));
  kv.emplace_back("llama.block_count", GGUFValue::unsignedInt(GGUFType::U32, 1));
  kv.emplace_back("llama.embedding_length", GGUFValue::unsignedInt(GGUFType::U32, 256));
  kv.emplace_back("llama.feed_forward_length", GGUFValue::unsignedInt(GGUFType::U32, 256));
  kv.emplace_back("llama.attention.head_count", GGUFValue::unsignedInt(GGUFType::U32, 4));
  kv.emplace_back("llama.context_length", GGUFValue::unsignedInt(GGUFType::U32, 32));
  GGUFTensorData t;
  t.name = "token_embd.weight";
  t.ne = {256, 8};
  t.type = uint32_t(GGMLType::Q5_K);
  t.bytes.resize(8 * 176);
  ASSERT_TRUE(writeGGUF(path, kv, {t}, &error)) << error;
  EXPECT_FALSE(ModelDir::open(path, &error));
  EXPECT_NE(error.find(path + ": tensor 'token_embd.weight' is Q5_K, which xfmr does not read yet"),
            std::string::npos)
      << error;
  kv[0].second = GGUFValue::string("falcon");
  ASSERT_TRUE(writeGGUF(path, kv, {}, &error)) << error;
  EXPECT_FALSE(ModelDir::open(path, &error));
  EXPECT_NE(error.find("general.architecture 'falcon' is not supported from GGUF"),
            std::string::npos)
      << error;
  std::string cleanup = std::string("rm -rf ") + root;
  EXPECT_EQ(std::system(cleanup.c_str()), 0);
}
} // namespace

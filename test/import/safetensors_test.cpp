#include "xfmr/import/gpt2.h"
#include "xfmr/import/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <cstdlib>
#include <unistd.h>
#include <fstream>

using namespace xfmr::io;

namespace {
std::string tempPath(const char *name) {
  return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
         "/xfmr-st-" + std::to_string(::getpid()) + "-" + name;
}

TEST(SafeTensors, WritesAndReadsBack) {
  std::string path = tempPath("a.safetensors"), err;
  ASSERT_TRUE(writeSafeTensors(path, {{"a", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"b", {1}, {7}}}, &err)) << err;
  auto st = SafeTensors::open(path, &err);
  ASSERT_TRUE(st) << err;
  ASSERT_EQ(st->tensors().size(), 2u);
  const TensorInfo *a = st->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(st->toF32(*a), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(st->find("c"), nullptr);
  std::remove(path.c_str());
}

TEST(SafeTensors, HalfAndBFloat16Conversion) {
  EXPECT_EQ(halfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(halfToFloat(0xC000), -2.0f);
  EXPECT_EQ(halfToFloat(0x0001), 5.9604644775390625e-08f); // smallest subnormal
  EXPECT_EQ(halfToFloat(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(halfToFloat(0x7C00)));
  EXPECT_EQ(bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0xC0A0), -5.0f);
}

TEST(SafeTensors, HalfRoundingRoundTrips) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.1f})
    EXPECT_EQ(halfToFloat(floatToHalf(f)), halfToFloat(floatToHalf(halfToFloat(floatToHalf(f)))));
  EXPECT_EQ(floatToHalf(1.f), 0x3C00);
  EXPECT_EQ(floatToHalf(0.1f), 0x2E66);         // nearest half to 0.1
  EXPECT_EQ(floatToHalf(1e6f), 0x7C00);          // overflow to inf
  EXPECT_EQ(floatToHalf(5.9604645e-08f), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToBF16(1.f), 0x3F80);
  EXPECT_EQ(floatToBF16(1.00390625f), 0x3F80);   // tie rounds to even
  EXPECT_EQ(floatToBF16(1.01171875f), 0x3F82);   // tie rounds to even (up)
}

TEST(SafeTensors, ReadsF16AndBF16Tensors) {
  std::string path = tempPath("h.safetensors"), err;
  std::string header = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}})";
  while (header.size() % 8)
    header += ' ';
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<char *>(&n), 8);
  f << header;
  uint16_t data[3] = {0x3C00, 0x4000, 0x4040};
  f.write(reinterpret_cast<char *>(data), 6);
  f.close();
  auto st = SafeTensors::open(path, &err);
  ASSERT_TRUE(st) << err;
  EXPECT_EQ(st->toF32(*st->find("h")), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(st->toF32(*st->find("b")), (std::vector<float>{3.0f}));
  std::remove(path.c_str());
}

// Found by fuzz_safetensors (test/fuzz/crashes/README.md).
TEST(SafeTensors, EmptyAndHugeShapes) {
  auto file = [](const std::string &header, size_t dataBytes) {
    std::string h = header;
    while (h.size() % 8)
      h += ' ';
    std::string bytes(8, '\0');
    uint64_t n = h.size();
    std::memcpy(bytes.data(), &n, 8);
    return bytes + h + std::string(dataBytes, '\0');
  };
  std::string err;
  // An F32 tensor with no elements: converts to an empty vector.
  std::string empty = file(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0);
  auto st = SafeTensors::parse(reinterpret_cast<const uint8_t *>(empty.data()), empty.size(),
                               "empty", &err);
  ASSERT_TRUE(st) << err;
  EXPECT_TRUE(st->toF32(*st->find("e")).empty());
  // Dimensions whose product wraps around 2^64 to 2 (8 bytes of F32).
  std::string wrap = file(
      R"({"w":{"dtype":"F32","shape":[154317347858,119537721],"data_offsets":[0,8]}})", 8);
  EXPECT_FALSE(SafeTensors::parse(reinterpret_cast<const uint8_t *>(wrap.data()), wrap.size(),
                                  "wrap", &err));
  EXPECT_NE(err.find("too many elements"), std::string::npos) << err;
}

TEST(GPT2Model, RandomModelRoundTripsAndIsSeeded) {
  std::string dir = tempPath("gpt2"), err;
  GPT2Config c;
  c.nLayer = 1;
  c.nEmbd = 8;
  c.nHead = 2;
  c.nCtx = 4;
  c.vocab = 10;
  ASSERT_TRUE(writeRandomGPT2(dir, c, 5, &err)) << err;
  auto files = ModelDir::open(dir, &err);
  ASSERT_TRUE(files) << err;
  EXPECT_EQ(files->shape().hidden, 8);
  EXPECT_EQ(files->load("h.0.ln_1.weight"), std::vector<float>(8, 1.0f));
  std::vector<float> wte = files->load("wte.weight");
  ASSERT_TRUE(writeRandomGPT2(dir, c, 5, &err)) << err;
  EXPECT_EQ(ModelDir::open(dir, &err)->load("wte.weight"), wte);
  std::system(("rm -rf '" + dir + "'").c_str());
}
} // namespace

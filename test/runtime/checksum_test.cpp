// The hash that binds a compiled model's files: every single-bit change of
// an input changes it, and how the bytes are split over update() does not.
#include "xfmr/io/checksum.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

using namespace xfmr::io;

TEST(Hash64, EveryBitFlipChangesTheDigest) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (size_t size : {1, 7, 31, 32, 33, 100, 257}) {
    std::vector<uint8_t> data(size);
    for (auto &b : data)
      b = uint8_t(rng());
    std::set<uint64_t> digests{hash64(data.data(), size)};
    for (size_t i = 0; i < size; ++i)
      for (int bit = 0; bit < 8; ++bit) {
        data[i] ^= uint8_t(1 << bit);
        digests.insert(hash64(data.data(), size));
        data[i] ^= uint8_t(1 << bit);
      }
    EXPECT_EQ(digests.size(), 1 + 8 * size) << "size " << size;
  }
  // The regression that a multiplier without its low bit missed: "63" -> "64".
  EXPECT_NE(hash64("model eos_token 63\n", 19), hash64("model eos_token 64\n", 19));
  // Zeros of different lengths differ.
  std::vector<uint8_t> zeros(64, 0);
  EXPECT_NE(hash64(zeros.data(), 31), hash64(zeros.data(), 32));
}

TEST(Hash64, SplitsDoNotMatter) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint8_t> data(1000);
  for (auto &b : data)
    b = uint8_t(rng());
  uint64_t whole = hash64(data.data(), data.size());
  for (int trial = 0; trial < 50; ++trial) {
    Hash64 h;
    for (size_t at = 0; at < data.size();) {
      size_t n = std::min<size_t>(rng() % 70, data.size() - at);
      h.update(data.data() + at, n);
      at += n;
    }
    EXPECT_EQ(h.digest(), whole);
  }
}

TEST(Hash64, HexRoundTrips) {
  uint64_t h = 0;
  EXPECT_TRUE(hexToHash(hashToHex(0x0123456789abcdefull), &h));
  EXPECT_EQ(h, 0x0123456789abcdefull);
  EXPECT_FALSE(hexToHash("0123456789ABCDEF", &h)); // lower case only, as written
  EXPECT_FALSE(hexToHash("0123", &h));
}

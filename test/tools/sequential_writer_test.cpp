// SequentialWriter (weights.bin's writer): byte-exact files of any size,
// with O_DIRECT where the file system has it (the build tree) and through
// the cache where it may not (/dev/shm), pieces of odd sizes and zero runs.
#include "sequential_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <unistd.h>
#include <vector>

namespace {
std::vector<uint8_t> contents(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void writeAndCheck(const std::string &dir) {
  std::mt19937 rng(11);
  for (size_t total : {size_t(0), size_t(1), size_t(4096), size_t(4099),
                       (size_t(8) << 20) + 4097, (size_t(17) << 20) + 5}) {
    std::string path = dir + "/seq_writer_test_" + std::to_string(::getpid()) + ".bin";
    xfmr::driver::SequentialWriter w;
    std::string error;
    ASSERT_TRUE(w.open(path, &error)) << error;
    std::vector<uint8_t> expected;
    while (expected.size() < total) {
      size_t n = std::min<size_t>(total - expected.size(), rng() % 3000000 + 1);
      if (rng() % 4 == 0) { // a run of zeros
        ASSERT_TRUE(w.write(nullptr, n, &error)) << error;
        expected.insert(expected.end(), n, 0);
        continue;
      }
      std::vector<uint8_t> piece(n);
      for (auto &b : piece)
        b = uint8_t(rng());
      ASSERT_TRUE(w.write(piece.data(), n, &error)) << error;
      expected.insert(expected.end(), piece.begin(), piece.end());
    }
    ASSERT_TRUE(w.finish(&error)) << error;
    EXPECT_EQ(w.written(), int64_t(total));
    EXPECT_EQ(contents(path), expected) << dir << ", " << total << " bytes, direct " << w.direct();
    std::remove(path.c_str());
  }
}

TEST(SequentialWriter, ExactBytesOnDisk) { writeAndCheck("."); }

TEST(SequentialWriter, ExactBytesOnTmpfs) {
  if (access("/dev/shm", W_OK) != 0)
    GTEST_SKIP() << "no writable /dev/shm";
  writeAndCheck("/dev/shm");
}

TEST(SequentialWriter, UncreatableFileIsAnError) {
  xfmr::driver::SequentialWriter w;
  std::string error;
  EXPECT_FALSE(w.open("/nonexistent-dir/weights.bin", &error));
  EXPECT_NE(error.find("/nonexistent-dir/weights.bin: cannot create"), std::string::npos)
      << error;
}
} // namespace

// readLargeFile: a file out of the page cache comes in with O_DIRECT, one
// in it through the cache, byte-exact either way, at sizes around the
// 4096-byte blocks O_DIRECT reads whole.
#include "xfmr/io/files.h"
#include "xfmr/large_pages.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fcntl.h>
#include <sys/mman.h>
#include <random>
#include <unistd.h>
#include <vector>

namespace {
std::vector<uint8_t> randomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto &b : v)
    b = uint8_t(rng());
  return v;
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::vector<uint8_t> &bytes) {
    char name[] = "large_file_testXXXXXX"; // in the build tree: a real disk
    int fd = mkstemp(name);
    path = name;
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
    EXPECT_EQ(fsync(fd), 0);
    ::close(fd);
  }
  ~TempFile() { std::remove(path.c_str()); }
};

/// Pages of the file's first n bytes in the page cache (mincore).
size_t residentPages(const std::string &path, size_t n) {
  int fd = ::open(path.c_str(), O_RDONLY);
  void *m = mmap(nullptr, n, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED)
    return 0;
  std::vector<unsigned char> v((n + 4095) / 4096);
  size_t in = 0;
  if (mincore(m, n, v.data()) == 0)
    for (unsigned char c : v)
      in += c & 1;
  munmap(m, n);
  return in;
}

bool readBack(const std::string &path, size_t n, std::vector<uint8_t> *out, bool *direct) {
  int64_t size = 0;
  std::string error;
  int fd = xfmr::io::openRegularFile(path, &size, &error);
  if (fd < 0)
    return false;
  xfmr::rt::LargePageBuffer buf(n);
  bool ok = buf.ok() && xfmr::io::readLargeFile(fd, path, buf.data(), n, direct, &error);
  EXPECT_TRUE(ok) << error;
  if (ok)
    out->assign(buf.data(), buf.data() + n);
  ::close(fd);
  return ok;
}

TEST(ReadLargeFile, UncachedDirectAndCachedBuffered) {
  for (size_t n : {size_t(1), size_t(4095), size_t(4096), size_t(4097),
                   (size_t(3) << 20) + 123}) {
    std::vector<uint8_t> bytes = randomBytes(n, unsigned(n));
    TempFile f(bytes);
    // Out of the cache (clean pages after fsync, so the advice is honoured).
    int fd = ::open(f.path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
    std::vector<uint8_t> got;
    bool direct = false;
    ASSERT_TRUE(readBack(f.path, n, &got, &direct));
    EXPECT_EQ(got, bytes) << n << " bytes, direct " << direct;
    // Where the file system has O_DIRECT and honoured the advice (the file
    // is really out of the cache: overlay file systems may keep it), the
    // direct read must have been used.
    int probe = ::open(f.path.c_str(), O_RDONLY | O_DIRECT);
    if (probe >= 0) {
      ::close(probe);
      if (residentPages(f.path, n) == 0)
        EXPECT_TRUE(direct) << n << " bytes: not in the cache, yet read through it";
    }
    // Into the cache, then read from it.
    fd = ::open(f.path.c_str(), O_RDONLY);
    std::vector<uint8_t> sink(n);
    EXPECT_EQ(::pread(fd, sink.data(), n, 0), ssize_t(n));
    ::close(fd);
    ASSERT_TRUE(readBack(f.path, n, &got, &direct));
    EXPECT_EQ(got, bytes) << n << " bytes, cached";
    EXPECT_FALSE(direct) << n << " bytes: in the cache, yet read around it";
  }
}

TEST(ReadLargeFile, FileShorterThanAskedIsAnError) {
  std::vector<uint8_t> bytes = randomBytes(5000, 7);
  TempFile f(bytes);
  int64_t size = 0;
  std::string error;
  int fd = xfmr::io::openRegularFile(f.path, &size, &error);
  ASSERT_GE(fd, 0);
  xfmr::rt::LargePageBuffer buf(9000);
  bool direct = false;
  EXPECT_FALSE(xfmr::io::readLargeFile(fd, f.path, buf.data(), 9000, &direct, &error));
  EXPECT_NE(error.find("file shrank"), std::string::npos) << error;
  ::close(fd);
}
} // namespace

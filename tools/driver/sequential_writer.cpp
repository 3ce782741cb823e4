//===- sequential_writer.cpp - one large file written front to back --------===//
#include "sequential_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

using namespace xfmr::driver;

namespace {
constexpr size_t kBlock = 4096;         // O_DIRECT alignment of buffer, size, offset
constexpr size_t kStage = 8u << 20;     // staged bytes per write()
} // namespace

void SequentialWriter::FreeAligned::operator()(uint8_t *p) const { std::free(p); }

SequentialWriter::~SequentialWriter() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool SequentialWriter::open(const std::string &path, std::string *error) {
  path_ = path;
  buf_.reset(static_cast<uint8_t *>(std::aligned_alloc(kBlock, kStage)));
  if (!buf_) {
    *error = path + ": cannot allocate the write buffer";
    return false;
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  direct_ = fd_ >= 0;
  if (fd_ < 0 && errno == EINVAL) // no O_DIRECT here
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    *error = path + ": cannot create (" + std::strerror(errno) + ")";
    return false;
  }
  return true;
}

bool SequentialWriter::flush(size_t bytes, std::string *error) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t w = ::pwrite(fd_, buf_.get() + done, bytes - done, off_t(flushed_ + int64_t(done)));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && direct_ && errno == EINVAL && done == 0 && flushed_ == 0) {
      // Accepted at open, refused at write (some FUSE and network file
      // systems): write through the cache from here on.
      int flags = fcntl(fd_, F_GETFL);
      if (flags >= 0 && fcntl(fd_, F_SETFL, flags & ~O_DIRECT) == 0) {
        direct_ = false;
        continue;
      }
    }
    if (w <= 0) {
      *error = path_ + ": write failed (" + (w < 0 ? std::strerror(errno) : "no progress") + ")";
      return false;
    }
    done += size_t(w);
  }
  flushed_ += int64_t(bytes);
  return true;
}

bool SequentialWriter::write(const void *data, size_t n, std::string *error) {
  const auto *p = static_cast<const uint8_t *>(data);
  while (n > 0) {
    size_t take = std::min(n, kStage - used_);
    if (p) {
      std::memcpy(buf_.get() + used_, p, take);
      p += take;
    } else {
      std::memset(buf_.get() + used_, 0, take);
    }
    used_ += take;
    n -= take;
    written_ += int64_t(take);
    if (used_ == kStage) {
      if (!flush(kStage, error))
        return false;
      used_ = 0;
    }
  }
  return true;
}

bool SequentialWriter::finish(std::string *error) {
  // The tail: padded to a whole block for O_DIRECT, then cut back.
  size_t tail = used_;
  size_t out = direct_ ? (tail + kBlock - 1) / kBlock * kBlock : tail;
  std::memset(buf_.get() + tail, 0, out - tail);
  if (out > 0 && !flush(out, error))
    return false;
  used_ = 0;
  if (::ftruncate(fd_, off_t(written_)) != 0) {
    *error = path_ + ": cannot set its size (" + std::strerror(errno) + ")";
    return false;
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    *error = path_ + ": close failed (" + std::strerror(errno) + ")";
    return false;
  }
  return true;
}

//===- sequential_writer.h - one large file written front to back -*- C++ -*-===//
//
// weights.bin is gigabytes written once, in order. Through the page cache
// every byte is copied into freshly allocated cache pages, which on the VMs
// xfmr is developed on runs at ~200 MB/s of kernel CPU time (dd: 196 MB/s
// buffered, 1.0 GB/s with O_DIRECT, 2 GiB) and takes a core from the
// packers. So the writer stages bytes in an aligned buffer and writes whole
// blocks with O_DIRECT, padding the last block and truncating it off; where
// the file system refuses O_DIRECT (tmpfs), it writes through the cache.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_DRIVER_SEQUENTIAL_WRITER_H
#define XFMR_DRIVER_SEQUENTIAL_WRITER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace xfmr::driver {

class SequentialWriter {
public:
  SequentialWriter() = default;
  ~SequentialWriter();
  SequentialWriter(const SequentialWriter &) = delete;
  SequentialWriter &operator=(const SequentialWriter &) = delete;

  /// Creates (truncates) `path`. False with *error naming it on failure.
  bool open(const std::string &path, std::string *error);
  /// Appends `n` bytes (nullptr: zeros).
  bool write(const void *data, size_t n, std::string *error);
  /// Flushes, gives the file its exact size and closes it.
  bool finish(std::string *error);
  int64_t written() const { return written_; }
  bool direct() const { return direct_; }

private:
  bool flush(size_t bytes, std::string *error);
  int fd_ = -1;
  bool direct_ = false;
  std::string path_;
  struct FreeAligned {
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, FreeAligned> buf_;
  size_t used_ = 0;     // staged bytes in buf_
  int64_t flushed_ = 0; // bytes on disk (a multiple of the block while direct)
  int64_t written_ = 0; // bytes appended
};

} // namespace xfmr::driver

#endif

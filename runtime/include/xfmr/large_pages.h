// Memory for what a decode step streams through every token: the weights
// (and the bandwidth probe and the tuner's timing copies, so they read
// memory the same way).
//
// A 124M-parameter model streams 125-500 MB per token. On 4 KiB pages that
// is one TLB miss per 4 KiB read; 2 MiB pages make it one per 2 MiB, and a
// decode step measured 1.08x (int4) to 1.32x (bf16) faster (docs/runtime.md). A file mapping
// gets whatever page-cache folios the file happens to have, which varies
// with the file's history; an anonymous mapping asked for transparent huge
// pages (madvise) gets them whenever the kernel has them to give.
//
// Part of the runtime's C++ surface, like thread_pool.h.
#ifndef XFMR_RUNTIME_LARGE_PAGES_H
#define XFMR_RUNTIME_LARGE_PAGES_H

#include <cstddef>
#include <cstdint>

namespace xfmr::rt {

class LargePageBuffer {
public:
  LargePageBuffer() = default;
  /// Anonymous, 2 MiB-aligned, zero-filled memory of `bytes`, with
  /// transparent huge pages requested; ok() is false when mmap fails.
  explicit LargePageBuffer(size_t bytes);
  ~LargePageBuffer();
  LargePageBuffer(LargePageBuffer &&other) noexcept;
  LargePageBuffer &operator=(LargePageBuffer &&other) noexcept;
  LargePageBuffer(const LargePageBuffer &) = delete;
  LargePageBuffer &operator=(const LargePageBuffer &) = delete;

  bool ok() const { return data_ != nullptr; }
  uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  void *map_ = nullptr; // the mapping, larger than size_ for the alignment
  size_t mapBytes_ = 0;
  uint8_t *data_ = nullptr;
  size_t size_ = 0;
};

/// Bytes of [p, p + bytes) that the kernel backs with huge pages now, from
/// /proc/self/smaps (AnonHugePages + FilePmdMapped of the mappings it
/// overlaps, at most `bytes`); -1 where smaps cannot be read.
int64_t hugePageBytes(const void *p, size_t bytes);

} // namespace xfmr::rt

#endif

// LargePageBuffer and hugePageBytes (see xfmr/large_pages.h).
#include "xfmr/large_pages.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

using namespace xfmr::rt;

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
} // namespace

LargePageBuffer::LargePageBuffer(size_t bytes) {
  size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // One spare huge page so an aligned start fits; MAP_NORESERVE: the
  // pages are committed as they are written.
  size_t mapBytes = rounded + kHugePage;
  void *map = mmap(nullptr, mapBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED)
    return;
  auto start = (reinterpret_cast<uintptr_t>(map) + kHugePage - 1) / kHugePage * kHugePage;
#ifdef MADV_HUGEPAGE
  // Advice only: without THP (or with it off) the buffer works on 4 KiB pages.
  madvise(reinterpret_cast<void *>(start), rounded, MADV_HUGEPAGE);
#endif
  map_ = map;
  mapBytes_ = mapBytes;
  data_ = reinterpret_cast<uint8_t *>(start);
  size_ = bytes;
}

LargePageBuffer::~LargePageBuffer() {
  if (map_)
    munmap(map_, mapBytes_);
}

LargePageBuffer::LargePageBuffer(LargePageBuffer &&other) noexcept { *this = std::move(other); }

LargePageBuffer &LargePageBuffer::operator=(LargePageBuffer &&other) noexcept {
  if (this != &other) {
    if (map_)
      munmap(map_, mapBytes_);
    map_ = std::exchange(other.map_, nullptr);
    mapBytes_ = std::exchange(other.mapBytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

int64_t xfmr::rt::hugePageBytes(const void *p, size_t bytes) {
  FILE *f = std::fopen("/proc/self/smaps", "r");
  if (!f)
    return -1;
  uintptr_t lo = reinterpret_cast<uintptr_t>(p), hi = lo + bytes;
  bool inside = false;
  int64_t total = 0;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long from, to;
    // A mapping's header line: "from-to perms offset dev inode path".
    if (std::sscanf(line, "%lx-%lx ", &from, &to) == 2 && std::strchr(line, '-') &&
        std::strchr(line, '-') < std::strchr(line, ' ')) {
      inside = from < hi && to > lo;
      continue;
    }
    long kb;
    if (inside && (std::sscanf(line, "AnonHugePages: %ld kB", &kb) == 1 ||
                   std::sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1))
      total += int64_t(kb) * 1024;
  }
  std::fclose(f);
  return std::min<int64_t>(total, int64_t(bytes));
}

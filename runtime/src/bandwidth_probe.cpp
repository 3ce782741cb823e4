// xfmr_model_probe_bandwidth: how fast this model's threads read a buffer of
// a given size, the ceiling a memory-bound decode step is measured against.
#include "error.h"
#include "model.h"
#include "xfmr/large_pages.h"
#include "xfmr/runtime.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace xfmr::rt;

namespace {
using Lanes = uint64_t __attribute__((vector_size(32)));
constexpr int64_t kChunk = 1 << 16; // bytes per work unit

struct Probe {
  const uint8_t *data;
  int64_t bytes;
  std::vector<uint64_t> sink; // one per chunk, so no load is dead code
};

/// XOR of [p, p + n) (n a multiple of 256), 64-byte loads into four
/// independent accumulators: the widest plain read the core can issue.
__attribute__((target("avx512f"))) uint64_t readAVX512(const uint8_t *p,
                                                       int64_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < n; i += 256) {
    a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + i + 192));
  }
  a0 = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  return uint64_t(_mm512_reduce_or_epi64(a0));
}

/// The same with 32-byte vectors, for CPUs without AVX-512.
uint64_t readPortable(const uint8_t *p, int64_t n) {
  Lanes a0{}, a1{}, a2{}, a3{}, v;
  for (int64_t i = 0; i < n; i += 128) {
    std::memcpy(&v, p + i, 32), a0 ^= v;
    std::memcpy(&v, p + i + 32, 32), a1 ^= v;
    std::memcpy(&v, p + i + 64, 32), a2 ^= v;
    std::memcpy(&v, p + i + 96, 32), a3 ^= v;
  }
  Lanes a = a0 ^ a1 ^ a2 ^ a3;
  return a[0] ^ a[1] ^ a[2] ^ a[3];
}

/// Reads chunks [begin, end), as a streaming kernel reads its weights.
void readSlice(void *ctx, int64_t begin, int64_t end) {
  auto *p = static_cast<Probe *>(ctx);
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  for (int64_t c = begin; c < end; ++c) {
    int64_t from = c * kChunk, n = std::min(p->bytes - from, kChunk) / 256 * 256;
    uint64_t r = avx512 ? readAVX512(p->data + from, n)
                        : readPortable(p->data + from, n);
    for (int64_t i = from + n; i < std::min(p->bytes, from + kChunk); ++i)
      r ^= p->data[i];
    p->sink[size_t(c)] = r;
  }
}
} // namespace

extern "C" double xfmr_model_probe_bandwidth(xfmr_model *model, int64_t bytes,
                                             int reps) {
  auto *m = reinterpret_cast<Model *>(model);
  if (bytes <= 0 || reps <= 0) {
    setError("bandwidth probe needs a positive size and repetition count");
    return -1;
  }
  // The same kind of memory the weights live in, so the two compare.
  LargePageBuffer buf{size_t(bytes)};
  if (!buf.ok()) {
    setError("bandwidth probe: cannot allocate " + std::to_string(bytes) + " bytes");
    return -1;
  }
  std::memset(buf.data(), 1, size_t(bytes)); // real pages, not the shared zero page
  int64_t chunks = (bytes + kChunk - 1) / kChunk;
  Probe p{buf.data(), bytes,
          std::vector<uint64_t>(size_t(chunks))};
  std::vector<double> gbps;
  {
    std::lock_guard<std::mutex> lock(m->poolMutex);
    m->pool->run(readSlice, &p, chunks); // warm-up: page tables, caches
    for (int r = 0; r < reps; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      m->pool->run(readSlice, &p, chunks);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      gbps.push_back(double(bytes) / s / 1e9);
    }
  }
  std::nth_element(gbps.begin(), gbps.begin() + long(gbps.size() / 2), gbps.end());
  return gbps[gbps.size() / 2];
}

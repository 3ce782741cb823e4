#include "xfmr/io/checksum.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unistd.h>
#include <vector>

using namespace xfmr::io;

namespace {
// xxHash64's primes and round: odd multipliers (bijective mod 2^64) with
// a rotation between, so no difference in a word is ever lost.
constexpr uint64_t kPrime = 0x9E3779B185EBCA87ull, kPrime2 = 0xC2B2AE3D27D4EB4Full;

uint64_t round(uint64_t acc, uint64_t word) {
  acc += word * kPrime2;
  acc = (acc << 31) | (acc >> 33);
  return acc * kPrime;
}

uint64_t load64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  return h ^ (h >> 33);
}

bool preadAll(int fd, uint8_t *dst, size_t bytes, int64_t at, std::string *error) {
  size_t done = 0;
  while (done < bytes) {
    ssize_t r = pread(fd, dst + done, bytes - done, off_t(at + int64_t(done)));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      *error = r == 0 ? "the file is shorter than its size" : std::strerror(errno);
      return false;
    }
    done += size_t(r);
  }
  return true;
}
} // namespace

void Hash64::block(const uint8_t *p) {
  for (int i = 0; i < 4; ++i)
    lanes_[i] = round(lanes_[i], load64(p + 8 * i));
}

void Hash64::update(const void *data, size_t size) {
  auto *p = static_cast<const uint8_t *>(data);
  total_ += size;
  if (pendingBytes_) {
    size_t take = std::min(size, 32 - pendingBytes_);
    std::memcpy(pending_ + pendingBytes_, p, take);
    pendingBytes_ += take, p += take, size -= take;
    if (pendingBytes_ < 32)
      return;
    block(pending_);
    pendingBytes_ = 0;
  }
  for (; size >= 32; p += 32, size -= 32)
    block(p);
  std::memcpy(pending_, p, size);
  pendingBytes_ = size;
}

uint64_t Hash64::digest() const {
  uint64_t l[4] = {lanes_[0], lanes_[1], lanes_[2], lanes_[3]};
  uint8_t tail[32] = {};
  std::memcpy(tail, pending_, pendingBytes_);
  tail[31] ^= uint8_t(0x80 | pendingBytes_); // a short tail differs from zeros
  for (int i = 0; i < 4; ++i)
    l[i] = round(l[i], load64(tail + 8 * i));
  uint64_t h = total_ * kPrime;
  for (int i = 0; i < 4; ++i)
    h = mix(h ^ mix(l[i] + uint64_t(i)));
  return h;
}

uint64_t xfmr::io::hash64(const void *data, size_t size) {
  Hash64 h;
  h.update(data, size);
  return h.digest();
}

std::string xfmr::io::hashToHex(uint64_t h) {
  static const char *digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4)
    s[size_t(i)] = digits[h & 15];
  return s;
}

bool xfmr::io::hexToHash(const std::string &text, uint64_t *h) {
  if (text.size() != 16)
    return false;
  uint64_t v = 0;
  for (char c : text) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return false;
    v = v << 4 | uint64_t(d);
  }
  *h = v;
  return true;
}

bool xfmr::io::fingerprintFile(int fd, int64_t size, uint64_t *out, std::string *error) {
  constexpr int64_t kPage = 4096, kSamples = 16;
  Hash64 h;
  h.update(&size, sizeof size);
  std::vector<uint8_t> buf(static_cast<size_t>(kPage));
  if (size <= kPage * kSamples) {
    for (int64_t at = 0; at < size; at += kPage) {
      size_t n = size_t(std::min(kPage, size - at));
      if (!preadAll(fd, buf.data(), n, at, error))
        return false;
      h.update(buf.data(), n);
    }
  } else {
    for (int64_t i = 0; i < kSamples; ++i) {
      int64_t at = i * ((size - kPage) / (kSamples - 1));
      if (!preadAll(fd, buf.data(), size_t(kPage), at, error))
        return false;
      h.update(buf.data(), size_t(kPage));
    }
  }
  *out = h.digest();
  return true;
}

bool xfmr::io::checksumFile(int fd, int64_t size, uint64_t *out, std::string *error) {
  Hash64 h;
  std::vector<uint8_t> buf(size_t(4) << 20);
  for (int64_t at = 0; at < size;) {
    size_t n = size_t(std::min<int64_t>(int64_t(buf.size()), size - at));
    if (!preadAll(fd, buf.data(), n, at, error))
      return false;
    h.update(buf.data(), n);
    at += int64_t(n);
  }
  *out = h.digest();
  return true;
}

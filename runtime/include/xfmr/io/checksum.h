// The 64-bit hash that ties a compiled model's files together: the
// manifest records the weights file's hash (checked in full by
// `xfmr verify`) and a fingerprint of sampled pages (checked at every
// load); kernels.so records the hash of the manifest it was compiled with.
// Not cryptographic: it catches stale, truncated and mixed-up files, not a
// forger (anyone who can write kernels.so can run code anyway).
#ifndef XFMR_IO_CHECKSUM_H
#define XFMR_IO_CHECKSUM_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace xfmr::io {

/// Streaming hash: four independent xxHash64-style lanes over 64-bit words
/// (several GB/s, so `xfmr verify` of a 500 MB model takes a fraction of a
/// second), mixed with the length at the end. The same bytes in any split
/// of update() calls give the same digest.
class Hash64 {
public:
  void update(const void *data, size_t size);
  uint64_t digest() const;

private:
  void block(const uint8_t *p);
  uint64_t lanes_[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full,
                        0x165667B19E3779F9ull, 0x27D4EB2F165667C5ull};
  uint8_t pending_[32];
  size_t pendingBytes_ = 0;
  uint64_t total_ = 0;
};

uint64_t hash64(const void *data, size_t size);

/// Sixteen hex digits, and back (false on anything else).
std::string hashToHex(uint64_t h);
bool hexToHash(const std::string &text, uint64_t *h);

/// The hash of 16 pages of 4 KiB spread evenly over a file of `size`
/// bytes (all of a smaller file) and of the size: cheap enough for every
/// load, and any two models of one shape differ in it.
bool fingerprintFile(int fd, int64_t size, uint64_t *out, std::string *error);
/// The hash of the whole file.
bool checksumFile(int fd, int64_t size, uint64_t *out, std::string *error);

} // namespace xfmr::io

#endif

// A loaded compiled model: parsed manifest, mapped weights, kernel entries.
#ifndef XFMR_RUNTIME_MODEL_H
#define XFMR_RUNTIME_MODEL_H

#include "xfmr/large_pages.h"
#include "xfmr/thread_pool.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct xfmr_kernel_table;

namespace xfmr::rt {

using KernelFn = void (*)(void *const *buffers, int64_t n, int64_t pos,
                          int64_t begin, int64_t end);

/// A buffer a dispatch reads or writes.
struct Ref {
  enum Kind { Weight, Slot, Tokens, Cache, Logits } kind;
  int index = 0; // weight id, slot id or layer
};

struct Kernel {
  std::string symbol;
  KernelFn fn = nullptr;
  int64_t units = 0; // 0: one unit per row
};

struct Dispatch {
  int kernel = 0;
  bool logits = false;       // the LM head: may run on the last rows only
  int64_t inputRowBytes = 0; // its input's row stride, for that offset
  std::vector<Ref> args;     // inputs then the output
};

struct WeightEntry {
  std::string name;
  int64_t offset = 0, bytes = 0;
};

/// Limits on what a manifest may declare, checked before anything is sized
/// from it (far above any model xfmr compiles; docs/runtime.md).
struct ManifestLimits {
  static constexpr int64_t kMaxTokens = 1 << 20, kMaxVocab = 1 << 24;
  static constexpr int64_t kMaxLayers = 1 << 12, kMaxHeads = 1 << 12;
  static constexpr int64_t kMaxContext = 1 << 24, kMaxHeadDim = 1 << 16;
  static constexpr int64_t kMaxRowBytes = int64_t(1) << 30;
  static constexpr int64_t kMaxBytes = int64_t(1) << 42; // any one buffer or file
  static constexpr int64_t kMaxEntries = 1 << 20;        // weights, slots, kernels, dispatches
  static constexpr int64_t kMaxUnits = int64_t(1) << 30;
  static constexpr int64_t kMaxManifestBytes = 64 << 20;
  static constexpr size_t kMaxBuffers = 16; // per dispatch (a KV cache takes two)
};

struct Model {
  std::string dir;
  std::string manifestText; // as read: kernels.so carries its hash
  std::map<std::string, int64_t> info; // "model" lines: n_layer, ...
  int64_t maxTokens = 0, vocab = 0;
  int64_t kvLayers = 0, kvHeads = 0, kvContext = 0, headDim = 0;
  int64_t kvHalfBytes = 0; // one layer's keys (or values), scales included
  int64_t weightBytes = 0;
  int64_t decodeBytes = -1; // weight bytes one decode step reads; -1: unknown
  uint64_t weightsChecksum = 0, weightsFingerprint = 0;
  // Session buffer sizes, computed once from the checked numbers above.
  int64_t tokensBytes = 0, logitsBytes = 0, cacheBytes = 0;
  std::vector<int64_t> slotBytes;
  bool needsAMX = false;     // kernels use AMX tiles
  std::vector<WeightEntry> weights;
  std::vector<int64_t> slotRowBytes;
  std::vector<Kernel> kernels;
  std::vector<Dispatch> dispatches;

  void *library = nullptr;
  const uint8_t *weightData = nullptr; // into weightCopy or the file mapping
  LargePageBuffer weightCopy;
  size_t weightMapBytes = 0; // > 0: weightData maps weights.bin
  std::unique_ptr<ThreadPool> pool;
  std::mutex poolMutex; // sessions of one model take turns on its pool

  ~Model();
};

/// Parses manifest text, range-checking every number in 64-bit arithmetic
/// and computing the session's buffer sizes; on failure returns false and
/// sets *error ("manifest.txt line N: ...").
bool parseManifest(const std::string &text, Model &model, std::string *error);

/// Binds the manifest's kernels to the entries of a kernel table (the one
/// kernels.so exports, or a test's): every kernel must be in the table with
/// the same work units, every dispatch must pass as many buffers as its
/// kernel takes, each at least as large as the kernel may touch. With
/// `checkHash`, the table must also have been compiled with this very
/// manifest. False and *error on the first mismatch.
bool bindKernels(Model &model, const ::xfmr_kernel_table &table, bool checkHash,
                 std::string *error);

/// The bytes of each buffer a dispatch passes, in kernel-argument order.
std::vector<int64_t> dispatchBufferBytes(const Model &model, const Dispatch &d);

} // namespace xfmr::rt

/// The C API's model handle is a Model (tests and the fuzz targets build one).
struct xfmr_model : xfmr::rt::Model {};

#endif

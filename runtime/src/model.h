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

struct Model {
  std::string dir;
  std::map<std::string, int64_t> info; // "model" lines: n_layer, ...
  int64_t maxTokens = 0, vocab = 0;
  int64_t kvLayers = 0, kvHeads = 0, kvContext = 0, headDim = 0;
  int64_t kvHalfBytes = 0; // one layer's keys (or values), scales included
  int64_t weightBytes = 0;
  int64_t decodeBytes = -1; // weight bytes one decode step reads; -1: unknown
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

/// Parses manifest text; on failure returns false and sets *error.
bool parseManifest(const std::string &text, Model &model, std::string *error);

} // namespace xfmr::rt

#endif

// xfmr_session_*: the KV cache, the activation buffers and the dispatch loop.
#include "error.h"
#include "model.h"
#include "xfmr/runtime.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

using namespace xfmr::rt;

namespace {
struct AlignedFree {
  void operator()(void *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<uint8_t, AlignedFree>;

Buffer allocate(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  // Not cleared: every kernel writes a row before any kernel reads it, and
  // untouched pages of the large logits buffer then cost no memory.
  void *p = std::aligned_alloc(64, rounded ? rounded : 64);
  return Buffer(static_cast<uint8_t *>(p));
}

/// What each thread's slice of one dispatch needs.
struct Call {
  KernelFn fn;
  void *buffers[ManifestLimits::kMaxBuffers]; // the parser bounds a dispatch's count
  int64_t n, pos;
};

void runSlice(void *ctx, int64_t begin, int64_t end) {
  auto *c = static_cast<Call *>(ctx);
  c->fn(c->buffers, c->n, c->pos, begin, end);
}
} // namespace

struct xfmr_session {
  xfmr_model *model = nullptr;
  Model *m = nullptr;
  int64_t context = 0, position = 0;
  Buffer tokens, cache, logits;
  std::vector<Buffer> slots;
  std::vector<float> allLogits; // when one call spans several chunks
  int64_t logitRows = 0;
  const float *logitView = nullptr;
  bool profile = false;
  std::vector<double> kernelSeconds;
};

extern "C" xfmr_session *xfmr_session_create(xfmr_model *model, int n_ctx) {
  auto *m = reinterpret_cast<Model *>(model);
  if (n_ctx > m->kvContext) {
    setError("a context of " + std::to_string(n_ctx) + " positions exceeds the model's " +
             std::to_string(m->kvContext));
    return nullptr;
  }
  auto s = std::make_unique<xfmr_session>();
  s->model = model;
  s->m = m;
  s->context = n_ctx <= 0 ? m->kvContext : n_ctx;
  // Sizes were computed and range-checked once, when the manifest was read.
  s->tokens = allocate(size_t(m->tokensBytes));
  s->cache = allocate(size_t(m->cacheBytes));
  s->logits = allocate(size_t(m->logitsBytes));
  if (!s->tokens || !s->cache || !s->logits) {
    setError("out of memory allocating the session");
    return nullptr;
  }
  for (int64_t bytes : m->slotBytes) {
    s->slots.push_back(allocate(size_t(bytes)));
    if (!s->slots.back()) {
      setError("out of memory allocating activations");
      return nullptr;
    }
  }
  s->kernelSeconds.assign(m->kernels.size(), 0.0);
  return s.release();
}

extern "C" void xfmr_session_free(xfmr_session *s) { delete s; }
extern "C" int xfmr_session_position(const xfmr_session *s) {
  return int(s->position);
}
extern "C" void xfmr_session_reset(xfmr_session *s) { s->position = 0; }

namespace {
/// Runs the dispatch list on `n` tokens (n <= max_tokens) at s->position,
/// keeping the logits of the last `logitRows` of them.
void forwardChunk(xfmr_session *s, int64_t n, int64_t logitRows) {
  Model &m = *s->m;
  int64_t kvLayerBytes = m.kvHalfBytes;
  for (const Dispatch &d : m.dispatches) {
    const Kernel &k = m.kernels[d.kernel];
    Call call{k.fn, {}, n, s->position};
    int a = 0;
    for (const Ref &r : d.args) {
      switch (r.kind) {
      case Ref::Weight:
        call.buffers[a++] =
            const_cast<uint8_t *>(m.weightData + m.weights[r.index].offset);
        break;
      case Ref::Slot:
        call.buffers[a++] = s->slots[r.index].get();
        break;
      case Ref::Tokens:
        call.buffers[a++] = s->tokens.get();
        break;
      case Ref::Logits:
        call.buffers[a++] = s->logits.get();
        break;
      case Ref::Cache: {
        uint8_t *layer = s->cache.get() + 2 * r.index * kvLayerBytes;
        call.buffers[a++] = layer;
        call.buffers[a++] = layer + kvLayerBytes;
        break;
      }
      }
    }
    if (d.logits) {
      // Only the last logitRows rows go through the LM head.
      call.buffers[0] = static_cast<uint8_t *>(call.buffers[0]) +
                        (n - logitRows) * d.inputRowBytes;
      call.n = logitRows;
    }
    int64_t units = k.units ? k.units : call.n;
    if (s->profile) {
      auto t0 = std::chrono::steady_clock::now();
      m.pool->run(runSlice, &call, units);
      s->kernelSeconds[d.kernel] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
    } else {
      m.pool->run(runSlice, &call, units);
    }
  }
}
} // namespace

extern "C" int xfmr_prefill(xfmr_session *s, const int32_t *tokens, int n,
                            int all_logits) {
  Model &m = *s->m;
  if (n <= 0) {
    xfmr::rt::setError("prefill needs at least one token");
    return -1;
  }
  if (s->position + n > s->context) {
    setError("context full: " + std::to_string(s->position) + " + " +
             std::to_string(n) + " tokens exceed the session's " +
             std::to_string(s->context) + " positions");
    return -1;
  }
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= m.vocab) {
      setError("token " + std::to_string(tokens[i]) + " at index " +
               std::to_string(i) + " is outside the vocabulary of " +
               std::to_string(m.vocab));
      return -1;
    }
  std::lock_guard<std::mutex> lock(m.poolMutex);
  bool chunked = n > m.maxTokens;
  if (chunked && all_logits)
    s->allLogits.assign(size_t(n) * m.vocab, 0.f);
  for (int64_t done = 0; done < n;) {
    int64_t c = std::min<int64_t>(n - done, m.maxTokens);
    bool last = done + c == n;
    int64_t rows = all_logits ? c : (last ? 1 : 0);
    std::memcpy(s->tokens.get(), tokens + done, size_t(c) * 4);
    // A chunk whose logits nobody reads still runs the LM head on one row.
    forwardChunk(s, c, rows ? rows : 1);
    if (chunked && all_logits)
      std::memcpy(s->allLogits.data() + size_t(done) * m.vocab, s->logits.get(),
                  size_t(c) * m.vocab * 4);
    s->position += c;
    done += c;
  }
  s->logitRows = all_logits ? n : 1;
  s->logitView = (chunked && all_logits)
                     ? s->allLogits.data()
                     : reinterpret_cast<const float *>(s->logits.get());
  return 0;
}

extern "C" int xfmr_decode(xfmr_session *s, int32_t token) {
  return xfmr_prefill(s, &token, 1, 0);
}

extern "C" const float *xfmr_logits(const xfmr_session *s, int *rows) {
  if (rows)
    *rows = int(s->logitRows);
  return s->logitView;
}

extern "C" void xfmr_session_profile(xfmr_session *s, int enable) {
  s->profile = enable != 0;
}

extern "C" int xfmr_session_kernel_times(const xfmr_session *s,
                                         const char **names, double *seconds,
                                         int cap) {
  int n = int(s->m->kernels.size());
  for (int i = 0; i < n && i < cap; ++i) {
    names[i] = s->m->kernels[i].symbol.c_str();
    seconds[i] = s->kernelSeconds[i];
  }
  return n;
}

// libFuzzer target: a compiled model's manifest.txt, and then the session
// code on whatever the parser and bindKernels accept.
//
// The input is parsed as a manifest. When it parses (and its buffers are
// small: at most kMaxTotalBytes of weights, slots, logits and cache, at most
// kMaxKernels kernels), a stub kernel table is built from the parsed model
// itself, as a kernels.so compiled from it would declare: for each kernel,
// the buffer count of the first dispatch that uses it and, per buffer, the
// smallest size any of its dispatches passes (dispatchBufferBytes; slots
// are shared by kernels of different widths, so the first dispatch's alone
// would refuse every real manifest), an LM head's input as max_tokens rows
// of its row bytes; its work units from the manifest. Each stub entry
// touches exactly what its table entry declares: the first and last byte of
// every buffer, and it writes the last byte of its output (the last buffer);
// an LM head's input (a kernel of a "logits" dispatch) is read by rows, n
// rows of the dispatch's row bytes from where the session points, as the
// generated LM head reads it. If bindKernels (without the hash check)
// accepts the table, the model gets zeroed weights of weights_bytes and a
// one-thread pool, and a session prefills tokens derived from the input
// (also a prompt longer than max_tokens when the context allows: chunks,
// with all logits), decodes and reads logits. ASan then reports any buffer
// the session sizes or offsets differently from what the parser promised.
// Seeds: make_corpus.sh (manifests of compiled tiny models: f32, int8,
// int8 KV cache) and seeds/fuzz_manifest/.
#include "model.h"
#include "xfmr/kernel_table.h"
#include "xfmr/runtime.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace xfmr::rt;

namespace {
constexpr int kMaxKernels = 64;
constexpr int64_t kMaxTotalBytes = int64_t(64) << 20;

struct StubInfo {
  int64_t n = 0;                                 // buffers
  int64_t bytes[ManifestLimits::kMaxBuffers] = {}; // what the table declares
  int64_t rowBytes0 = 0; // > 0: buffer 0 is an LM head input, read by rows
  int64_t units = 0;
};
StubInfo gStub[kMaxKernels];
int64_t gMaxTokens = 0, gContext = 0;
volatile uint8_t gSink;

template <int K>
void stubKernel(void *const *buffers, int64_t n, int64_t pos, int64_t begin, int64_t end) {
  const StubInfo &s = gStub[K];
  // What the session promises every kernel: 1..max_tokens rows at a
  // position inside the context, a slice of the kernel's work units.
  int64_t units = s.units ? s.units : n;
  if (n < 1 || n > gMaxTokens || pos < 0 || pos + n > gContext || begin < 0 ||
      begin > end || end > units)
    std::abort();
  for (int64_t i = 0; i < s.n; ++i) {
    int64_t bytes = i == 0 && s.rowBytes0 ? n * s.rowBytes0 : s.bytes[i];
    if (bytes <= 0)
      continue;
    auto *p = static_cast<volatile uint8_t *>(buffers[i]);
    gSink = gSink ^ p[0] ^ p[bytes - 1];
  }
  if (s.n > 0 && s.bytes[s.n - 1] > 0)
    static_cast<volatile uint8_t *>(buffers[s.n - 1])[s.bytes[s.n - 1] - 1] = uint8_t(n);
}

template <size_t... I>
constexpr std::array<xfmr_kernel_entry, sizeof...(I)> stubs(std::index_sequence<I...>) {
  return {&stubKernel<int(I)>...};
}
constexpr auto kStubs = stubs(std::make_index_sequence<kMaxKernels>());

/// Whether the session's buffers for `m` are small enough to allocate.
bool small(const Model &m) {
  __int128 total = __int128(m.weightBytes) + m.tokensBytes + m.logitsBytes + m.cacheBytes;
  for (int64_t b : m.slotBytes)
    total += b;
  return total <= kMaxTotalBytes;
}

uint64_t gSeed;
int32_t nextToken(const Model &m) {
  gSeed = gSeed * 6364136223846793005ull + 1442695040888963407ull;
  return int32_t((gSeed >> 33) % uint64_t(m.vocab));
}

void readLogits(xfmr_session *s, const Model &m, int expectRows) {
  int rows = 0;
  const float *l = xfmr_logits(s, &rows);
  if (rows != expectRows || !l)
    std::abort();
  auto *b = reinterpret_cast<const volatile uint8_t *>(l);
  size_t bytes = size_t(rows) * size_t(m.vocab) * 4;
  gSink = gSink ^ b[0] ^ b[bytes - 1];
}

bool prefill(xfmr_session *s, const Model &m, int n, int allLogits) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t &t : ids)
    t = nextToken(m);
  if (xfmr_prefill(s, ids.data(), n, allLogits) != 0)
    std::abort(); // the harness asks only for what fits the context
  readLogits(s, m, allLogits ? n : 1);
  return true;
}

void runSessions(xfmr_model *model) {
  Model &m = *model;
  int64_t context = m.kvContext;
  auto *s = xfmr_session_create(model, 0);
  if (!s)
    std::abort();
  // A short prompt, then decode steps.
  int first = int(std::min<int64_t>({context, 3, m.maxTokens}));
  prefill(s, m, first, 0);
  for (int i = 0; i < 2 && xfmr_session_position(s) < context; ++i) {
    if (xfmr_decode(s, nextToken(m)) != 0)
      std::abort();
    readLogits(s, m, 1);
  }
  // Refusals: past the context, outside the vocabulary, nothing.
  std::vector<int32_t> over(size_t(context - xfmr_session_position(s) + 1), 0);
  if (over.size() < (1u << 16) && xfmr_prefill(s, over.data(), int(over.size()), 0) == 0)
    std::abort();
  int32_t bad[2] = {0, int32_t(std::min<int64_t>(m.vocab, INT32_MAX))};
  if (xfmr_session_position(s) + 2 <= context && xfmr_prefill(s, bad, 2, 0) == 0)
    std::abort();
  if (xfmr_prefill(s, bad, 0, 0) == 0)
    std::abort();
  // One full chunk with every row's logits.
  xfmr_session_reset(s);
  int full = int(std::min<int64_t>({context, m.maxTokens, 4096}));
  prefill(s, m, full, 1);
  // A prompt longer than max_tokens: chunks, with and without all logits.
  int64_t longer = std::min<int64_t>({context, 2 * m.maxTokens + 1, 4096});
  if (longer > m.maxTokens && longer * m.vocab * 4 <= kMaxTotalBytes) {
    xfmr_session_reset(s);
    prefill(s, m, int(longer), 1);
    xfmr_session_reset(s);
    prefill(s, m, int(longer), 0);
    if (xfmr_session_position(s) < context) {
      if (xfmr_decode(s, nextToken(m)) != 0)
        std::abort();
      readLogits(s, m, 1);
    }
  }
  xfmr_session_free(s);
  // A session of a shorter context than the model's.
  if (context > 1) {
    auto *t = xfmr_session_create(model, int(context / 2));
    if (!t)
      std::abort();
    prefill(t, m, int(std::min<int64_t>({context / 2, m.maxTokens, 4096})), 0);
    xfmr_session_free(t);
  }
  if (context < INT32_MAX && xfmr_session_create(model, int(context + 1)))
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size), error;
  auto model = std::make_unique<xfmr_model>();
  Model &m = *model;
  if (!parseManifest(text, m, &error)) {
    if (error.empty())
      std::abort();
    return 0;
  }
  if (!small(m) || m.kernels.size() > size_t(kMaxKernels))
    return 0;
  // The table a kernels.so compiled from this manifest would export.
  std::vector<xfmr_kernel_info> infos(m.kernels.size());
  std::vector<std::vector<int64_t>> sizes(m.kernels.size());
  for (size_t k = 0; k < m.kernels.size(); ++k) {
    gStub[k] = StubInfo();
    gStub[k].units = m.kernels[k].units;
  }
  std::vector<bool> used(m.kernels.size());
  for (const Dispatch &d : m.dispatches) {
    size_t k = size_t(d.kernel);
    std::vector<int64_t> have = dispatchBufferBytes(m, d);
    if (have.size() > ManifestLimits::kMaxBuffers)
      std::abort(); // the parser bounds a dispatch's buffers
    if (!used[k]) {
      used[k] = true;
      sizes[k] = have;
    } else if (have.size() == sizes[k].size()) {
      // Slots are shared: a kernel touches what its smallest one holds.
      for (size_t i = 0; i < have.size(); ++i)
        sizes[k][i] = std::min(sizes[k][i], have[i]);
    }
    if (d.logits && !gStub[k].rowBytes0 && !have.empty()) {
      // The LM head reads max_tokens rows of its input row width.
      gStub[k].rowBytes0 = d.inputRowBytes;
      sizes[k][0] = std::min(sizes[k][0], d.inputRowBytes * m.maxTokens);
    }
  }
  for (size_t k = 0; k < m.kernels.size(); ++k) {
    gStub[k].n = int64_t(sizes[k].size());
    for (size_t i = 0; i < sizes[k].size(); ++i)
      gStub[k].bytes[i] = sizes[k][i];
  }
  for (size_t k = 0; k < m.kernels.size(); ++k)
    infos[k] = {m.kernels[k].symbol.c_str(), kStubs[k], int64_t(sizes[k].size()),
                sizes[k].empty() ? nullptr : sizes[k].data(), m.kernels[k].units};
  xfmr_kernel_table table{XFMR_KERNEL_TABLE_ABI, 0, m.maxTokens, m.vocab, m.kvContext,
                          int64_t(infos.size()), infos.data()};
  m.manifestText = text;
  if (!bindKernels(m, table, /*checkHash=*/false, &error)) {
    if (error.empty())
      std::abort();
    return 0;
  }
  // Exactly weights_bytes of weights: ASan sees a read past them.
  std::unique_ptr<uint8_t[]> weights(m.weightBytes ? new uint8_t[size_t(m.weightBytes)]() : nullptr);
  m.weightData = weights.get();
  m.pool = std::make_unique<ThreadPool>(1);
  gMaxTokens = m.maxTokens;
  gContext = m.kvContext;
  gSeed = 0;
  for (size_t i = 0; i < size && i < 64; ++i)
    gSeed = gSeed * 131 + data[i];
  runSessions(model.get());
  model.reset(); // before the weights it points into
  return 0;
}

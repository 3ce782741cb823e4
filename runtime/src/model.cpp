// xfmr_model_*: open a compiled model directory.
#include "error.h"
#include "model.h"
#include "xfmr/io/amx.h"
#include "xfmr/io/checksum.h"
#include "xfmr/io/files.h"
#include "xfmr/kernel_table.h"
#include "xfmr/large_pages.h"
#include "xfmr/runtime.h"

#include <dlfcn.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

using namespace xfmr::rt;

Model::~Model() {
  pool.reset();
  if (weightData && weightMapBytes)
    munmap(const_cast<uint8_t *>(weightData), weightMapBytes);
  if (library)
    dlclose(library);
}

namespace {
/// Reads weights.bin into huge-page memory (the default), or maps the file
/// when `mapped` (page cache shared between processes, no copy) or when
/// anonymous memory cannot be had. The file must have the manifest's size
/// and fingerprint: a weights.bin of another model, or one rewritten since
/// the compile, is refused before a kernel reads it.
bool loadWeights(Model &m, bool mapped) {
  std::string path = m.dir + "/weights.bin", error;
  int64_t size = 0;
  int fd = xfmr::io::openRegularFile(path, &size, &error);
  if (fd < 0) {
    setError(error);
    return false;
  }
  auto fail = [&](const std::string &why) {
    close(fd);
    setError(path + ": " + why);
    return false;
  };
  if (size != m.weightBytes)
    return fail("size " + std::to_string(size) + " differs from the manifest's " +
                std::to_string(m.weightBytes) + " bytes (truncated, stale or another model's)");
  uint64_t fingerprint = 0;
  if (!xfmr::io::fingerprintFile(fd, size, &fingerprint, &error))
    return fail(error);
  if (fingerprint != m.weightsFingerprint)
    return fail("fingerprint " + xfmr::io::hashToHex(fingerprint) +
                " differs from the manifest's " + xfmr::io::hashToHex(m.weightsFingerprint) +
                " (another model's weights, or changed since the compile)");
  size_t bytes = size_t(m.weightBytes);
  if (bytes > 0 && !mapped) {
    LargePageBuffer copy(bytes); // 2 MiB-aligned and rounded: O_DIRECT can fill it
    bool direct = false;
    if (copy.ok() && !xfmr::io::readLargeFile(fd, path, copy.data(), bytes, &direct, &error)) {
      close(fd);
      setError(error);
      return false;
    }
    if (copy.ok()) {
      close(fd);
      m.weightData = copy.data();
      m.weightCopy = std::move(copy);
      return true;
    }
  }
  if (bytes > 0) {
    void *p = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      return fail("mmap failed");
    m.weightData = static_cast<const uint8_t *>(p);
    m.weightMapBytes = bytes;
  }
  close(fd);
  return true;
}

/// Loads kernels.so and binds the manifest to its kernel table. Only the
/// table is looked up: a manifest cannot name any other symbol.
bool loadKernels(Model &m) {
  std::string so = m.dir + "/kernels.so", error;
  int64_t size = 0;
  int fd = xfmr::io::openRegularFile(so, &size, &error);
  if (fd < 0) {
    setError(error);
    return false;
  }
  // The file checked is the file loaded: dlopen the descriptor, not the
  // path (which could become a FIFO or another library in between).
  std::string byFd = "/proc/self/fd/" + std::to_string(fd);
  m.library = dlopen(byFd.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m.library && errno == ENOENT) // no /proc: the path, checked just now
    m.library = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  close(fd);
  if (!m.library) {
    setError(so + ": " + dlerror());
    return false;
  }
  auto *table = static_cast<const xfmr_kernel_table *>(dlsym(m.library, "xfmr_kernel_table"));
  if (!table) {
    setError(so + ": no xfmr_kernel_table (not compiled by this xfmr): compile the model again");
    return false;
  }
  if (!bindKernels(m, *table, /*checkHash=*/true, &error)) {
    setError(m.dir + "/" + error);
    return false;
  }
  return true;
}

/// The manifest, parsed and checked; the directory must hold a model.
bool loadManifest(Model &m) {
  std::string path = m.dir + "/manifest.txt", error;
  if (!xfmr::io::readRegularFile(path, ManifestLimits::kMaxManifestBytes, &m.manifestText,
                                 &error)) {
    setError(error + " (not a compiled model?)");
    return false;
  }
  if (!parseManifest(m.manifestText, m, &error)) {
    setError(m.dir + "/" + error);
    return false;
  }
  return true;
}

xfmr_model *openModel(const char *dir, int n_threads, bool mappedWeights) {
  auto m = std::make_unique<xfmr_model>();
  m->dir = dir ? dir : "";
  std::string error;
  if (!loadManifest(*m))
    return nullptr;
  if (m->needsAMX && !xfmr::io::requestAMX(&error)) {
    setError(m->dir + ": " + error);
    return nullptr;
  }
  if (!loadWeights(*m, mappedWeights) || !loadKernels(*m))
    return nullptr;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (n_threads <= 0)
    n_threads = int(cores);
  m->pool = std::make_unique<ThreadPool>(n_threads);
  return m.release();
}
} // namespace

extern "C" xfmr_model *xfmr_model_open(const char *dir, int n_threads) {
  return openModel(dir, n_threads, false);
}
extern "C" xfmr_model *xfmr_model_open_mapped(const char *dir, int n_threads) {
  return openModel(dir, n_threads, true);
}

extern "C" void xfmr_model_close(xfmr_model *model) { delete model; }
extern "C" int xfmr_model_vocab_size(const xfmr_model *m) { return int(m->vocab); }
extern "C" int xfmr_model_context_length(const xfmr_model *m) {
  return int(m->kvContext);
}
extern "C" int xfmr_model_threads(const xfmr_model *m) { return m->pool->size(); }
extern "C" int64_t xfmr_model_weight_bytes(const xfmr_model *m) {
  return m->weightBytes;
}
extern "C" int64_t xfmr_model_weight_huge_page_bytes(const xfmr_model *m) {
  return m->weightBytes > 0 ? hugePageBytes(m->weightData, size_t(m->weightBytes)) : 0;
}
extern "C" int64_t xfmr_model_decode_bytes(const xfmr_model *m) {
  return m->decodeBytes >= 0 ? m->decodeBytes : m->weightBytes;
}

extern "C" int xfmr_model_verify(const char *dir) {
  Model m;
  m.dir = dir ? dir : "";
  if (!loadManifest(m) || !loadKernels(m))
    return -1;
  std::string path = m.dir + "/weights.bin", error;
  int64_t size = 0;
  int fd = xfmr::io::openRegularFile(path, &size, &error);
  if (fd < 0) {
    setError(error);
    return -1;
  }
  uint64_t fingerprint = 0, checksum = 0;
  bool read = xfmr::io::fingerprintFile(fd, size, &fingerprint, &error) &&
              xfmr::io::checksumFile(fd, size, &checksum, &error);
  close(fd);
  if (!read) {
    setError(path + ": " + error);
    return -1;
  }
  if (size != m.weightBytes || fingerprint != m.weightsFingerprint ||
      checksum != m.weightsChecksum) {
    setError(path + ": " +
             (size != m.weightBytes
                  ? "size " + std::to_string(size) + " differs from the manifest's " +
                        std::to_string(m.weightBytes)
                  : "checksum " + xfmr::io::hashToHex(checksum) +
                        " differs from the manifest's " +
                        xfmr::io::hashToHex(m.weightsChecksum)) +
             " (damaged, or another model's)");
    return -1;
  }
  // A tokenizer, when the model has one, must load.
  struct stat st;
  if (stat((m.dir + "/tokenizer.json").c_str(), &st) == 0 ||
      stat((m.dir + "/vocab.json").c_str(), &st) == 0 ||
      stat((m.dir + "/merges.txt").c_str(), &st) == 0) {
    xfmr_tokenizer *t = xfmr_tokenizer_load(m.dir.c_str());
    if (!t)
      return -1;
    xfmr_tokenizer_free(t);
  }
  return 0;
}

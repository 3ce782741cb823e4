// xfmr_model_*: open a compiled model directory.
#include "error.h"
#include "model.h"
#include "xfmr/io/amx.h"
#include "xfmr/large_pages.h"
#include "xfmr/runtime.h"

#include <dlfcn.h>
#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

using namespace xfmr::rt;

struct xfmr_model : Model {};

Model::~Model() {
  pool.reset();
  if (weightData && weightMapBytes)
    munmap(const_cast<uint8_t *>(weightData), weightMapBytes);
  if (library)
    dlclose(library);
}

namespace {
bool readFile(const std::string &path, std::string &out) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

/// Reads weights.bin into huge-page memory (the default), or maps the file
/// when `mapped` (page cache shared between processes, no copy) or when
/// anonymous memory cannot be had.
bool loadWeights(Model &m, bool mapped) {
  std::string path = m.dir + "/weights.bin";
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    setError(path + ": cannot open");
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size != m.weightBytes) {
    close(fd);
    setError(path + ": size " + std::to_string(st.st_size) +
             " differs from the manifest's " + std::to_string(m.weightBytes) +
             " bytes (truncated or stale)");
    return false;
  }
  size_t bytes = size_t(m.weightBytes);
  if (bytes > 0 && !mapped) {
    LargePageBuffer copy(bytes);
    size_t done = 0;
    while (copy.ok() && done < bytes) {
      ssize_t r = pread(fd, copy.data() + done, bytes - done, off_t(done));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0) {
        close(fd);
        setError(path + ": read failed at byte " + std::to_string(done) + " of " +
                 std::to_string(bytes) + (r == 0 ? " (file shrank)" : ""));
        return false;
      }
      done += size_t(r);
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
    if (p == MAP_FAILED) {
      close(fd);
      setError(path + ": mmap failed");
      return false;
    }
    m.weightData = static_cast<const uint8_t *>(p);
    m.weightMapBytes = bytes;
  }
  close(fd);
  return true;
}
} // namespace

namespace {
xfmr_model *openModel(const char *dir, int n_threads, bool mappedWeights) {
  auto m = std::make_unique<xfmr_model>();
  m->dir = dir ? dir : "";
  std::string text, error;
  if (!readFile(m->dir + "/manifest.txt", text)) {
    setError(m->dir + "/manifest.txt: cannot read (not a compiled model?)");
    return nullptr;
  }
  if (!parseManifest(text, *m, &error)) {
    setError(m->dir + "/" + error);
    return nullptr;
  }
  if (m->needsAMX && !xfmr::io::requestAMX(&error)) {
    setError(m->dir + ": " + error);
    return nullptr;
  }
  if (!loadWeights(*m, mappedWeights))
    return nullptr;
  std::string so = m->dir + "/kernels.so";
  m->library = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m->library) {
    setError(so + ": " + dlerror());
    return nullptr;
  }
  for (Kernel &k : m->kernels) {
    k.fn = reinterpret_cast<KernelFn>(dlsym(m->library, k.symbol.c_str()));
    if (!k.fn) {
      setError(so + ": missing kernel " + k.symbol);
      return nullptr;
    }
  }
  if (n_threads <= 0)
    n_threads = int(std::max(1u, std::thread::hardware_concurrency()));
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

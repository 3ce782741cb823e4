// xfmr_model_*: open a compiled model directory.
#include "error.h"
#include "model.h"
#include "xfmr/io/amx.h"
#include "xfmr/runtime.h"

#include <dlfcn.h>
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

bool mapWeights(Model &m) {
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
  if (m.weightBytes > 0) {
    void *p = mmap(nullptr, size_t(m.weightBytes), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      setError(path + ": mmap failed");
      return false;
    }
    m.weightData = static_cast<const uint8_t *>(p);
    m.weightMapBytes = size_t(m.weightBytes);
  }
  close(fd);
  return true;
}
} // namespace

extern "C" xfmr_model *xfmr_model_open(const char *dir, int n_threads) {
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
  if (!mapWeights(*m))
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

extern "C" void xfmr_model_close(xfmr_model *model) { delete model; }
extern "C" int xfmr_model_vocab_size(const xfmr_model *m) { return int(m->vocab); }
extern "C" int xfmr_model_context_length(const xfmr_model *m) {
  return int(m->kvContext);
}
extern "C" int xfmr_model_threads(const xfmr_model *m) { return m->pool->size(); }
extern "C" int64_t xfmr_model_weight_bytes(const xfmr_model *m) {
  return m->weightBytes;
}
extern "C" int64_t xfmr_model_decode_bytes(const xfmr_model *m) {
  return m->decodeBytes >= 0 ? m->decodeBytes : m->weightBytes;
}

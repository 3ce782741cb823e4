// libFuzzer target: a whole safetensors file in memory, as
// SafeTensors::open validates a mapped one (header length, JSON, dtypes,
// shapes, byte ranges, overlaps); then every tensor of an accepted file is
// looked up by name and converted to f32, reading exactly the bytes the
// parser promised are inside the file. Seeds: make_corpus.sh (init-model
// files, F32/F16, 1 and 2 layers) and seeds/fuzz_safetensors/.
#include "xfmr/import/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  auto st = xfmr::io::SafeTensors::parse(data, size, "fuzz.safetensors", &error);
  if (!st) {
    if (error.empty())
      std::abort(); // a refusal always says why
    return 0;
  }
  uint64_t dataBytes = st->dataBytes();
  volatile float sink = 0;
  for (const xfmr::io::TensorInfo &t : st->tensors()) {
    if (st->find(t.name) != &t)
      std::abort(); // the index names every tensor once
    if (t.end < t.begin || t.end > dataBytes)
      std::abort(); // accepted ranges lie in the data section
    // The shape's exact product (no wrap-around) must be what the range holds.
    unsigned __int128 elements = 1;
    bool huge = false;
    for (int64_t d : t.shape) {
      if (d < 0)
        std::abort();
      elements *= uint64_t(d);
      huge |= elements > (unsigned __int128)(1) << 64;
    }
    unsigned __int128 bytes = elements * (t.dtype == xfmr::io::DType::F32 ? 4 : 2);
    if (huge || bytes != t.end - t.begin)
      std::abort(); // the shape's exact product is what the range holds
    std::vector<float> f = st->toF32(t);
    if (int64_t(f.size()) != t.elements())
      std::abort();
    if (!f.empty())
      sink = sink + f.front() + f.back();
  }
  (void)st->find("no such tensor");
  return 0;
}

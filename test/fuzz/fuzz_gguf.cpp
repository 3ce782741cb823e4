// libFuzzer target: a whole GGUF file in memory, as GGUFFile::open checks
// a mapped one (header, every metadata value type and nesting, tensor
// infos, alignment, data ranges); then every tensor of an accepted file is
// looked up by name and its bytes are read end to end, and the invariants
// the importers rely on are checked, and its tokenizer metadata is turned
// into tokenizer files (or refused in one line); last the file is opened as
// a Llama-family or GPT-2 model by its architecture (or refused in one
// line) and every tensor is dequantized (F16 .. Q4_K, Q6_K) and its stored
// blocks read group by group, as the compiler packs them. Seeds: seeds/fuzz_gguf/
// (make_gguf_seeds.py: a small Llama with a llama.cpp-style tokenizer, and
// a byte-level one) and test/import/data/*.gguf (written by llama.cpp's own
// llama-quantize).
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_tokenizer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  auto f = xfmr::io::GGUFFile::parse(data, size, "fuzz.gguf", &error);
  if (!f) {
    if (error.empty() || error.find('\n') != std::string::npos)
      std::abort(); // a refusal always says why, on one line
    return 0;
  }
  for (const auto &[key, value] : f->metadata())
    if (f->find(key) != &value)
      std::abort(); // every key is indexed once
  volatile uint8_t sink = 0;
  for (const xfmr::io::GGUFTensorInfo &t : f->tensors()) {
    if (f->findTensor(t.name) != &t)
      std::abort();
    int64_t be = 0, bb = 0;
    if (!xfmr::io::ggmlBlock(t.type, &be, &bb) || t.ne.empty() || t.ne[0] % be != 0)
      std::abort(); // accepted tensors have a known layout of whole blocks
    if (t.offset % f->alignment() != 0 || t.offset > f->dataBytes() ||
        t.bytes > f->dataBytes() - t.offset || t.bytes != uint64_t(t.elements() / be * bb))
      std::abort(); // and lie in the data section
    const uint8_t *p = f->data(t);
    for (uint64_t i = 0; i < t.bytes; i += 4096)
      sink = sink + p[i];
    if (t.bytes)
      sink = sink + p[t.bytes - 1];
  }
  (void)f->find("no such key");
  xfmr::io::TokenizerFiles files;
  if (!xfmr::io::tokenizerFilesFromGGUF(*f, &files, &error) &&
      (error.empty() || error.find('\n') != std::string::npos))
    std::abort();
  error.clear();
  // The family by general.architecture, as ModelDir::open picks it.
  const xfmr::io::GGUFValue *arch = f->find("general.architecture");
  const bool gpt2 = arch && arch->type == xfmr::io::GGUFType::String && arch->s == "gpt2";
  auto m = gpt2 ? xfmr::io::GPT2Model::openGGUF(std::move(f), &error)
                : xfmr::io::LlamaModel::openGGUF(std::move(f), &error);
  if (!m) {
    if (error.empty() || error.find('\n') != std::string::npos)
      std::abort();
    return 0;
  }
  xfmr::io::TensorList expected;
  if (gpt2) {
    const auto &g = static_cast<const xfmr::io::GPT2Model &>(*m);
    expected = xfmr::io::GPT2Model::expectedTensors(g.config(), g.layout());
  } else {
    expected = xfmr::io::LlamaModel::expectedTensors(
        static_cast<const xfmr::io::LlamaModel &>(*m).config());
  }
  const xfmr::io::Checkpoint &ckpt = m->checkpoint();
  xfmr::io::QuantGroup q;
  for (const auto &[name, shape] : expected) {
    const xfmr::io::Checkpoint::Tensor *t = ckpt.find(name);
    if (!t || t->shape != shape)
      std::abort(); // the open checked every expected tensor
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> v = ckpt.toF32(*t);
    if (int64_t(v.size()) != n)
      std::abort();
    if (auto s = ckpt.storedScheme(*t)) {
      const int64_t rows = shape[0], groups = shape[1] / s->group;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groups; ++g)
          if (!ckpt.storedGroup(*t, r, g, q) || int64_t(q.codes.size()) != s->group)
            std::abort(); // every group of a stored tensor is there
      if (ckpt.storedGroup(*t, rows, 0, q))
        std::abort();
    }
  }
  return 0;
}

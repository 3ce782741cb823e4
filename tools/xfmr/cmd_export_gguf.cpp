// xfmr export-gguf: a model directory (GPT-2 or the Llama family) as a GGUF
// file, written as llama.cpp's converter writes one (its keys and names;
// Llama's q/k rows in its rotary order, GPT-2's linears as [out, in]),
// matrices in any type the GGUF encoder writes: for tests that need GGUF
// files and for comparing with llama.cpp on identical weights.
#include "cli.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/gguf_model_writer.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"
#include "xfmr/import/model_dir.h"

#include <cstdio>

using namespace xfmr::cli;

int xfmr::cli::cmdExportGGUF(int argc, char **argv) {
  using namespace xfmr::io;
  const std::string types = ggmlWrittenTypeNames();
  const std::string usage = "xfmr export-gguf MODEL_DIR -o FILE [--type " + types + "]";
  Args args(argc, argv, 2);
  std::string out = args.take("-o"), type = args.take("--type", "f16");
  auto pos = args.positional(1, usage.c_str());
  if (out.empty())
    die(kBadInput, "missing -o FILE\nusage: " + usage);
  std::optional<GGMLType> t = ggmlWrittenType(type);
  if (!t)
    die(kBadInput, "--type '" + type + "': expected one of " + types);
  std::string error;
  auto m = ModelDir::open(pos[0], &error);
  if (!m)
    die(kBadInput, error);
  bool ok = false;
  size_t count = 0;
  if (auto *llama = llvm::dyn_cast<LlamaModel>(m.get())) {
    ok = writeLlamaGGUF(*llama, out, *t, &error);
    count = LlamaModel::expectedTensors(llama->config()).size();
  } else if (auto *gpt2 = llvm::dyn_cast<GPT2Model>(m.get())) {
    ok = writeGPT2GGUF(*gpt2, out, *t, &error);
    count = GPT2Model::expectedTensors(gpt2->config(), gpt2->layout()).size();
  } else {
    die(kBadInput, pos[0] + ": export-gguf writes GPT-2 and the Llama family only");
  }
  if (!ok)
    die(kBadInput, out + ": " + error);
  std::printf("wrote %s (%s, %zu tensors from %s)\n", out.c_str(),
              ggmlTypeName(uint32_t(*t)).c_str(), count, pos[0].c_str());
  return 0;
}

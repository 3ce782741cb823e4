// xfmr export-gguf: a Llama-family model directory as a GGUF file, written
// as llama.cpp's converter writes one (its keys and names, q/k rows in its
// rotary order), matrices as F32, F16, Q8_0, Q4_0, Q4_K or Q6_K: for tests that need
// GGUF files and for comparing with llama.cpp on identical weights.
#include "cli.h"
#include "xfmr/import/gguf.h"
#include "xfmr/import/llama.h"
#include "xfmr/import/model_dir.h"

#include <cstdio>

using namespace xfmr::cli;

int xfmr::cli::cmdExportGGUF(int argc, char **argv) {
  const char *usage =
      "xfmr export-gguf MODEL_DIR -o FILE [--type f32|f16|q8_0|q4_0|q4_k|q6_k]";
  Args args(argc, argv, 2);
  std::string out = args.take("-o"), type = args.take("--type");
  auto pos = args.positional(1, usage);
  if (out.empty())
    die(kBadInput, std::string("missing -o FILE\nusage: ") + usage);
  using xfmr::io::GGMLType;
  GGMLType t = GGMLType::F16;
  if (type == "f32")
    t = GGMLType::F32;
  else if (type == "q8_0")
    t = GGMLType::Q8_0;
  else if (type == "q4_0")
    t = GGMLType::Q4_0;
  else if (type == "q4_k")
    t = GGMLType::Q4_K;
  else if (type == "q6_k")
    t = GGMLType::Q6_K;
  else if (!type.empty() && type != "f16")
    die(kBadInput, "--type '" + type + "': expected f32, f16, q8_0, q4_0, q4_k or q6_k");
  std::string error;
  auto m = xfmr::io::ModelDir::open(pos[0], &error);
  if (!m)
    die(kBadInput, error);
  auto *llama = llvm::dyn_cast<xfmr::io::LlamaModel>(m.get());
  if (!llama)
    die(kBadInput, pos[0] + ": export-gguf writes the Llama family only");
  if (!xfmr::io::writeLlamaGGUF(*llama, out, t, &error))
    die(kBadInput, out + ": " + error);
  std::printf("wrote %s (%s, %zu tensors from %s)\n", out.c_str(),
              xfmr::io::ggmlTypeName(uint32_t(t)).c_str(),
              xfmr::io::LlamaModel::expectedTensors(llama->config()).size(), pos[0].c_str());
  return 0;
}

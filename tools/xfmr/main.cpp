// xfmr: import, compile, run and time transformer models.
#include "cli.h"

#include <cstring>

static const char *kUsage =
    "usage: xfmr COMMAND ...\n"
    "  import MODEL_DIR                 print the model in the xfmr dialect\n"
    "  compile MODEL_DIR -o OUT         compile to OUT (kernels.so, weights.bin, manifest.txt)\n"
    "  run OUT -p TEXT | --tokens IDS   generate; see 'xfmr run --help'\n"
    "  bench OUT                        time prefill and decode; see 'xfmr bench --help'\n"
    "  verify OUT                       check a compiled model whole (checksums, kernels)\n"
    "  tokenize DIR -p TEXT | --decode IDS   text to ids and back with a model's tokenizer\n"
    "  eval A B                         compare two models' logits (B: baseline)\n"
    "  tune MODEL_DIR --db PATH         tune the kernels' schedules into a database\n"
    "  tune-db export|import|list DB    share and read tuning databases\n"
    "  init-model DIR                   write a random GPT-2 or Llama (Hugging Face layout)\n"
    "  export-gguf MODEL_DIR -o FILE    a GPT-2 or Llama-family directory as GGUF (f32/f16/q8_0/q4_0)\n";

int main(int argc, char **argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? xfmr::cli::kBadInput : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "compile")
    return xfmr::cli::cmdCompile(argc, argv);
  if (cmd == "import")
    return xfmr::cli::cmdImport(argc, argv);
  if (cmd == "run")
    return xfmr::cli::cmdRun(argc, argv);
  if (cmd == "bench")
    return xfmr::cli::cmdBench(argc, argv);
  if (cmd == "tune")
    return xfmr::cli::cmdTune(argc, argv);
  if (cmd == "tune-db")
    return xfmr::cli::cmdTuneDB(argc, argv);
  if (cmd == "eval")
    return xfmr::cli::cmdEval(argc, argv);
  if (cmd == "verify")
    return xfmr::cli::cmdVerify(argc, argv);
  if (cmd == "tokenize")
    return xfmr::cli::cmdTokenize(argc, argv);
  if (cmd == "export-gguf")
    return xfmr::cli::cmdExportGGUF(argc, argv);
  if (cmd == "init-model")
    return xfmr::cli::cmdInitModel(argc, argv);
  std::fprintf(stderr, "xfmr: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return xfmr::cli::kBadInput;
}

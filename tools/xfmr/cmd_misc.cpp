// xfmr init-model
#include "cli.h"
#include "xfmr/io/gpt2.h"
#include "xfmr/runtime.h"

using namespace xfmr::cli;

int xfmr::cli::cmdInitModel(int argc, char **argv) {
  const char *usage = "xfmr init-model DIR [--layers 12] [--embd 768] "
                      "[--heads 12] [--ctx 1024] [--vocab 50257] [--seed 1234]";
  Args args(argc, argv, 2);
  xfmr::io::GPT2Config c;
  c.nLayer = args.takeInt("--layers", 12, 1, 1024);
  c.nEmbd = args.takeInt("--embd", 768, 1, 1 << 16);
  c.nHead = args.takeInt("--heads", 12, 1, 1024);
  c.nCtx = args.takeInt("--ctx", 1024, 1, 1 << 20);
  c.vocab = args.takeInt("--vocab", 50257, 1, 1 << 24);
  unsigned seed = unsigned(args.takeInt("--seed", 1234, 0, 0xFFFFFFFFl));
  auto pos = args.positional(1, usage);
  if (c.nEmbd % c.nHead != 0)
    die(kBadInput, "--embd must be a multiple of --heads");
  c.eosToken = c.vocab - 1;
  std::string error;
  if (!xfmr::io::writeRandomGPT2(pos[0], c, seed, &error))
    die(1, error);
  std::printf("wrote %s: GPT-2, %lld layers, %lld wide, %lld heads, ctx %lld, "
              "vocab %lld, seed %u\n",
              pos[0].c_str(), (long long)c.nLayer, (long long)c.nEmbd,
              (long long)c.nHead, (long long)c.nCtx, (long long)c.vocab, seed);
  return 0;
}

int xfmr::cli::cmdVerify(int argc, char **argv) {
  const char *usage = "xfmr verify OUT   (checks a compiled model whole: manifest, "
                      "kernels.so against it, weights.bin's full checksum, tokenizer)";
  Args args(argc, argv, 2);
  auto pos = args.positional(1, usage);
  if (xfmr_model_verify(pos[0].c_str()) != 0)
    die(kBadInput, xfmr_last_error());
  std::printf("%s: ok\n", pos[0].c_str());
  return 0;
}

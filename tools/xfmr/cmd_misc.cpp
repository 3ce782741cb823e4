// xfmr init-model
#include "cli.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"
#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include <unistd.h>

using namespace xfmr::cli;

namespace {
int initLlama(Args &args, const std::string &family) {
  const char *usage =
      "xfmr init-model DIR --family llama|mistral|qwen2 [--layers 22] [--embd 2048] "
      "[--heads 32] [--kv-heads 4] [--head-dim N] [--mlp 5632] [--ctx 2048] [--vocab 32000] "
      "[--rope-theta 10000] [--rope-scaling linear:F|llama3:F] [--tie] [--qkv-bias] "
      "[--sliding-window N] [--dtype f16|bf16|f32] [--shards 1] [--tokenizer DIR] [--seed 1234]";
  xfmr::io::LlamaConfig c;
  c.modelType = family;
  c.layers = args.takeInt("--layers", 22, 1, 1024);
  c.hidden = args.takeInt("--embd", 2048, 1, 1 << 16);
  c.heads = args.takeInt("--heads", 32, 1, 1024);
  c.kvHeads = args.takeInt("--kv-heads", 4, 1, 1024);
  c.headDim = args.takeInt("--head-dim", 0, 2, 1024);
  c.intermediate = args.takeInt("--mlp", 5632, 1, 1 << 20);
  c.context = args.takeInt("--ctx", 2048, 1, 1 << 24);
  c.vocab = args.takeInt("--vocab", 32000, 1, 1 << 24);
  c.ropeTheta = args.takeFloat("--rope-theta", 10000, 1, 1e12);
  std::string scaling = args.take("--rope-scaling");
  c.tieEmbeddings = args.flag("--tie");
  c.qkvBias = args.flag("--qkv-bias") || family == "qwen2";
  c.slidingWindow = args.takeInt("--sliding-window", 0, 1, 1 << 24);
  std::string dtype = args.take("--dtype", "f16"), tokenizer = args.take("--tokenizer");
  xfmr::io::RandomLlamaFormat format;
  format.shards = args.takeInt("--shards", 1, 1, 4096);
  unsigned seed = unsigned(args.takeInt("--seed", 1234, 0, 0xFFFFFFFFl));
  auto pos = args.positional(1, usage);
  if (c.qkvBias && family == "llama")
    c.outputBias = true; // Llama's attention_bias covers o_proj too
  if (c.headDim == 0) {
    if (c.hidden % c.heads != 0)
      die(kBadInput, "--embd must be a multiple of --heads (or give --head-dim)");
    c.headDim = c.hidden / c.heads;
  }
  if (c.headDim % 2 != 0 || c.heads % c.kvHeads != 0)
    die(kBadInput, "--head-dim must be even and --heads a multiple of --kv-heads");
  if (!scaling.empty()) {
    size_t colon = scaling.find(':');
    std::string kind = scaling.substr(0, colon);
    char *end = nullptr;
    double factor = colon == std::string::npos ? 0 : std::strtod(scaling.c_str() + colon + 1, &end);
    if ((kind != "linear" && kind != "llama3") || !(factor > 0) || !end || *end)
      die(kBadInput, "--rope-scaling must be linear:F or llama3:F with F > 0");
    c.ropeScaling.kind = kind == "linear" ? xfmr::io::RopeScaling::Kind::Linear
                                          : xfmr::io::RopeScaling::Kind::Llama3;
    c.ropeScaling.factor = factor;
    c.ropeScaling.originalContext = std::max<int64_t>(1, c.context / 4);
  }
  if (dtype == "f16")
    format.dtype = xfmr::io::DType::F16;
  else if (dtype == "bf16")
    format.dtype = xfmr::io::DType::BF16;
  else if (dtype == "f32")
    format.dtype = xfmr::io::DType::F32;
  else
    die(kBadInput, "--dtype must be f16, bf16 or f32");
  // The default tokenizer: Llama 2's SentencePiece-style BPE (32000 tokens),
  // fetched by scripts/setup.sh; without it the model has none.
  std::string tokenizerText, tokenizerConfig, error;
  if (tokenizer.empty() && c.vocab == 32000 &&
      ::access(XFMR_THIRD_PARTY_DIR "/tokenizers/llama2/tokenizer.json", R_OK) == 0)
    tokenizer = XFMR_THIRD_PARTY_DIR "/tokenizers/llama2";
  // Read before anything is written: a bad --tokenizer leaves no model.
  if (!tokenizer.empty()) {
    if (!xfmr::io::readRegularFile(tokenizer + "/tokenizer.json",
                                   xfmr::io::kMaxTokenizerFileBytes, &tokenizerText, &error))
      die(kBadInput, "--tokenizer: " + error);
    if (!xfmr::io::readRegularFile(tokenizer + "/tokenizer_config.json",
                                   xfmr::io::kMaxTokenizerFileBytes, &tokenizerConfig, &error))
      tokenizerConfig.clear();
    xfmr_tokenizer *tok = xfmr_tokenizer_load(tokenizer.c_str());
    if (!tok)
      die(kBadInput, std::string("--tokenizer: ") + xfmr_last_error());
    int64_t n = xfmr_tokenizer_vocab_size(tok);
    xfmr_tokenizer_free(tok);
    if (n > c.vocab)
      die(kBadInput, "--tokenizer " + tokenizer + " has " + std::to_string(n) +
                         " tokens, more than --vocab " + std::to_string(c.vocab));
  }
  if (!xfmr::io::writeRandomLlama(pos[0], c, seed, &error, format))
    die(1, error);
  if ((!tokenizerText.empty() &&
       !xfmr::io::writeFileAtomic(pos[0] + "/tokenizer.json", tokenizerText, &error)) ||
      (!tokenizerConfig.empty() &&
       !xfmr::io::writeFileAtomic(pos[0] + "/tokenizer_config.json", tokenizerConfig, &error)))
    die(1, error);
  std::printf("wrote %s: %s, %lld layers, %lld wide, %lld heads (%lld kv), head_dim %lld, "
              "MLP %lld, ctx %lld, vocab %lld, %s, seed %u%s\n",
              pos[0].c_str(), family.c_str(), (long long)c.layers, (long long)c.hidden,
              (long long)c.heads, (long long)c.kvHeads, (long long)c.headDim,
              (long long)c.intermediate, (long long)c.context, (long long)c.vocab,
              dtype.c_str(), seed, tokenizer.empty() ? "" : ", tokenizer.json");
  return 0;
}
} // namespace

int xfmr::cli::cmdInitModel(int argc, char **argv) {
  const char *usage = "xfmr init-model DIR [--family gpt2|llama|mistral|qwen2] [--layers 12] "
                      "[--embd 768] [--heads 12] [--ctx 1024] [--vocab 50257] [--seed 1234] "
                      "(--family llama --help: its options)";
  Args args(argc, argv, 2);
  std::string family = args.take("--family", "gpt2");
  if (family == "llama" || family == "mistral" || family == "qwen2")
    return initLlama(args, family);
  if (family != "gpt2")
    die(kBadInput, "--family must be gpt2, llama, mistral or qwen2, got '" + family + "'");
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

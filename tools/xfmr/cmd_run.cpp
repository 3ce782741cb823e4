// xfmr run: prefill a prompt, then stream sampled tokens.
#include "cli.h"
#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include <chrono>
#include <cstring>
#include <memory>

using namespace xfmr::cli;

namespace {
using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// Writes rows x vocab float32 little-endian, atomically (a temporary
/// sibling, then a rename); a target that is not a regular file (a device
/// node, a FIFO, a symbolic link, a directory) is refused and left alone.
void dumpLogits(const std::string &path, const float *logits, int rows,
                int vocab) {
  std::string error;
  if (!xfmr::io::writeFileAtomic(path, logits, size_t(rows) * size_t(vocab) * 4, &error))
    die(kBadInput, "--dump-logits " + error);
}
} // namespace

int xfmr::cli::cmdRun(int argc, char **argv) {
  const char *usage =
      "xfmr run OUT (-p TEXT | --tokens 1,2,3) [-n 64] [--threads N] "
      "[--temp T] [--top-k K] [--top-p P] [--seed S] [--dump-logits FILE]";
  Args args(argc, argv, 2);
  std::string prompt = args.take("-p"), tokenList = args.take("--tokens");
  bool hasPrompt = false;
  for (int i = 2; i < argc; ++i)
    hasPrompt |= !std::strcmp(argv[i], "-p");
  long n = args.takeInt("-n", 64, 0, 1 << 20);
  int threads = takeThreads(args);
  xfmr_sampler_params sp{};
  sp.temperature = float(args.takeFloat("--temp", 0.0, 0.0, 100.0));
  sp.top_k = int(args.takeInt("--top-k", 0, 0, 1 << 24));
  sp.top_p = float(args.takeFloat("--top-p", 1.0, 0.0, 1.0));
  sp.seed = uint64_t(args.takeInt("--seed", 0, 0, INT64_MAX));
  std::string dump = args.take("--dump-logits");
  auto pos = args.positional(1, usage);
  if (hasPrompt == !tokenList.empty())
    die(kBadInput, std::string("give exactly one of -p TEXT and --tokens IDS\nusage: ") + usage);

  xfmr_model *model = xfmr_model_open(pos[0].c_str(), threads);
  if (!model)
    die(kBadInput, xfmr_last_error());
  xfmr_tokenizer *tok = xfmr_tokenizer_load(pos[0].c_str());
  std::vector<int32_t> ids;
  if (hasPrompt) {
    if (!tok)
      die(kBadInput, std::string(xfmr_last_error()) +
                         ": use --tokens to give token ids directly");
    ids.resize(size_t(xfmr_tokenize(tok, prompt.c_str(), nullptr, 0)));
    xfmr_tokenize(tok, prompt.c_str(), ids.data(), int(ids.size()));
  } else {
    ids = parseIds("--tokens", tokenList);
  }
  if (ids.empty())
    die(kBadInput, "the prompt has no tokens");
  int vocab = xfmr_model_vocab_size(model);
  // Checked before a session exists, so the error leaves nothing behind.
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      die(kBadInput, "token " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                         " is outside the vocabulary of " + std::to_string(vocab));
  xfmr_session *s = xfmr_session_create(model, 0);
  if (!s)
    die(1, xfmr_last_error());
  auto print = [&](int32_t id) {
    size_t len = 0;
    const char *bytes = tok ? xfmr_token_bytes(tok, id, &len) : nullptr;
    if (bytes)
      std::fwrite(bytes, 1, len, stdout);
    else
      std::printf("%d ", id);
    std::fflush(stdout);
  };

  auto t0 = Clock::now();
  if (xfmr_prefill(s, ids.data(), int(ids.size()), dump.empty() ? 0 : 1) != 0) {
    std::string error = xfmr_last_error();
    xfmr_session_free(s);
    die(kBadInput, error);
  }
  double prefillMs = msSince(t0);
  int rows = 0;
  const float *logits = xfmr_logits(s, &rows);
  if (!dump.empty())
    dumpLogits(dump, logits, rows, vocab);
  if (hasPrompt && tok)
    std::printf("%s", prompt.c_str());
  else
    for (int32_t id : ids)
      print(id);

  std::unique_ptr<xfmr_sampler, void (*)(xfmr_sampler *)> sampler(
      xfmr_sampler_create(&sp), xfmr_sampler_free);
  const float *last = logits + size_t(rows - 1) * size_t(vocab);
  double decodeMs = 0;
  long steps = 0, generated = 0;
  int ctx = xfmr_model_context_length(model);
  for (long i = 0; i < n; ++i) {
    int32_t next = xfmr_sample(sampler.get(), last, vocab);
    print(next);
    ++generated;
    if (i + 1 == n || xfmr_session_position(s) >= ctx)
      break;
    auto t1 = Clock::now();
    if (xfmr_decode(s, next) != 0)
      die(1, xfmr_last_error());
    decodeMs += msSince(t1);
    ++steps;
    last = xfmr_logits(s, nullptr);
  }
  std::printf("\n\nprompt: %zu tokens, prefill %.2f ms | generated %ld tokens, "
              "decode %.2f ms/token over %ld steps | %d threads\n",
              ids.size(), prefillMs, generated, steps ? decodeMs / double(steps) : 0.0,
              steps, xfmr_model_threads(model));
  xfmr_session_free(s);
  if (tok)
    xfmr_tokenizer_free(tok);
  xfmr_model_close(model);
  return 0;
}

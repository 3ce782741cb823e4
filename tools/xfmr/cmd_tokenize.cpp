// xfmr tokenize: a model's tokenizer from the command line, text to ids and
// ids to text. DIR is a source model directory or a compiled one: both
// hold the tokenizer files under the same names.
#include "cli.h"
#include "xfmr/runtime.h"

#include <memory>

using namespace xfmr::cli;

int xfmr::cli::cmdTokenize(int argc, char **argv) {
  const char *usage = "xfmr tokenize DIR (-p TEXT | --decode IDS) [--no-special]   "
                      "(-p prints the ids, comma-separated; --decode the text; "
                      "--no-special: no BOS/EOS added, or special tokens left out)";
  Args args(argc, argv, 2);
  std::string text = args.take("-p"); // an empty value is refused by take
  bool hasText = !text.empty();
  std::string decodeList = args.take("--decode");
  bool noSpecial = args.flag("--no-special");
  auto pos = args.positional(1, usage);
  if (hasText == !decodeList.empty())
    die(kBadInput, std::string("give exactly one of -p TEXT and --decode IDS\nusage: ") + usage);

  std::unique_ptr<xfmr_tokenizer, void (*)(xfmr_tokenizer *)> tok(
      xfmr_tokenizer_load(pos[0].c_str()), xfmr_tokenizer_free);
  if (!tok)
    die(kBadInput, xfmr_last_error());
  if (hasText) {
    unsigned flags = noSpecial ? XFMR_TOKENIZE_NO_SPECIAL : 0;
    std::vector<int32_t> ids(
        size_t(xfmr_tokenize_ex(tok.get(), text.data(), text.size(), nullptr, 0, flags)));
    xfmr_tokenize_ex(tok.get(), text.data(), text.size(), ids.data(), int(ids.size()), flags);
    for (size_t i = 0; i < ids.size(); ++i)
      std::printf(i ? ",%d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  }
  std::vector<int32_t> ids = parseIds("--decode", decodeList);
  int vocab = xfmr_tokenizer_vocab_size(tok.get());
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= vocab)
      die(kBadInput, "--decode: id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                         " is outside the tokenizer's vocabulary of " + std::to_string(vocab));
  unsigned flags = noSpecial ? XFMR_DECODE_SKIP_SPECIAL : 0;
  int64_t n = xfmr_detokenize(tok.get(), ids.data(), int(ids.size()), nullptr, 0, flags);
  if (n < 0)
    die(kBadInput, xfmr_last_error());
  std::string out(size_t(n) + 1, '\0');
  xfmr_detokenize(tok.get(), ids.data(), int(ids.size()), out.data(), out.size(), flags);
  std::fwrite(out.data(), 1, size_t(n), stdout);
  std::printf("\n");
  return 0;
}

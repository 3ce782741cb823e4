/* The runtime from a program of your own: load a compiled model, feed a
 * prompt, generate greedily, time it. Plain C, linked against
 * libxfmr_runtime only (no MLIR, no compiler).
 *
 *   xfmr compile MODEL_DIR -o OUT
 *   build/examples/xfmr-generate OUT 16 "Hello, world"   # with a tokenizer
 *   build/examples/xfmr-generate OUT 16 15496 11 995     # or token ids
 *
 * Prints the generated token ids on one line (and the text when the model
 * has a tokenizer), then the latency.
 */
#include "xfmr/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL_OUT N_TOKENS (\"text\" | id id ...)\n", argv[0]);
    return 2;
  }
  int n = atoi(argv[2]);
  xfmr_model *model = xfmr_model_open(argv[1], 0);
  if (!model) {
    fprintf(stderr, "%s\n", xfmr_last_error());
    return 2;
  }
  xfmr_tokenizer *tok = xfmr_tokenizer_load(argv[1]); /* NULL: ids given */
  int32_t prompt[1024];
  int len = 0;
  if (tok && argc == 4) {
    len = xfmr_tokenize(tok, argv[3], prompt, 1024);
    if (len > 1024)
      len = 1024;
  } else {
    for (int i = 3; i < argc && len < 1024; ++i)
      prompt[len++] = (int32_t)atoi(argv[i]);
  }
  xfmr_session *s = xfmr_session_create(model, 0);
  xfmr_sampler_params greedy = {0};
  xfmr_sampler *sampler = xfmr_sampler_create(&greedy);
  int vocab = xfmr_model_vocab_size(model);

  double t0 = now_ms();
  if (!s || xfmr_prefill(s, prompt, len, 0) != 0) {
    fprintf(stderr, "%s\n", xfmr_last_error());
    return 1;
  }
  double prefill = now_ms() - t0, decode = 0;
  for (int i = 0; i < n; ++i) {
    int32_t next = xfmr_sample(sampler, xfmr_logits(s, NULL), vocab);
    printf("%d%s", next, i + 1 < n ? " " : "\n");
    if (tok) {
      size_t bytes;
      const char *text = xfmr_token_bytes(tok, next, &bytes);
      if (text)
        fwrite(text, 1, bytes, stderr);
    }
    if (i + 1 == n)
      break;
    double t1 = now_ms();
    if (xfmr_decode(s, next) != 0) {
      fprintf(stderr, "%s\n", xfmr_last_error());
      return 1;
    }
    decode += now_ms() - t1;
  }
  fprintf(stderr, "\nprefill %d tokens: %.2f ms; decode: %.2f ms/token\n", len,
          prefill, n > 1 ? decode / (n - 1) : 0.0);
  xfmr_sampler_free(sampler);
  xfmr_session_free(s);
  if (tok)
    xfmr_tokenizer_free(tok);
  xfmr_model_close(model);
  return 0;
}

/* xfmr runtime: load a compiled model and generate tokens.
 *
 * A compiled model is a directory written by `xfmr compile`:
 *   manifest.txt   the dispatch list (which kernel runs on which buffers)
 *   kernels.so     the generated kernels, one C entry point each
 *   weights.bin    the weights in the layout the kernels read (memory-mapped)
 *   tokenizer.json (+ tokenizer_config.json), or vocab.json + merges.txt:
 *                  the tokenizer, when the source model had one
 *
 * The runtime knows nothing of the compiler. Every function that can fail
 * returns NULL or a negative value and leaves a one-line message in
 * xfmr_last_error() (per thread).
 *
 *   xfmr_model *m = xfmr_model_open("out", 2);
 *   xfmr_session *s = xfmr_session_create(m, 0);
 *   xfmr_prefill(s, ids, n, 0);               // logits of the last token
 *   int32_t next = xfmr_sample(sampler, xfmr_logits(s, NULL), xfmr_model_vocab_size(m));
 *   xfmr_decode(s, next);                     // one more token
 */
#ifndef XFMR_RUNTIME_H
#define XFMR_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xfmr_model xfmr_model;
typedef struct xfmr_session xfmr_session;
typedef struct xfmr_sampler xfmr_sampler;
typedef struct xfmr_tokenizer xfmr_tokenizer;

/* The last error of this thread, or "" when none. */
const char *xfmr_last_error(void);

/* ---- Models --------------------------------------------------------------- */

/* Opens a compiled model; n_threads <= 0 means one per core. The weights
 * are read into private memory backed by 2 MiB pages where the kernel gives
 * them (transparent huge pages): a decode step streams every weight, and
 * on 4 KiB pages it measured 1.08x (int4) to 1.32x (bf16) slower. */
xfmr_model *xfmr_model_open(const char *dir, int n_threads);
/* The same, but weights.bin is memory-mapped: no copy, page cache shared by
 * every process that maps the model, page size as the page cache has it. */
xfmr_model *xfmr_model_open_mapped(const char *dir, int n_threads);
void xfmr_model_close(xfmr_model *model);
/* Checks a compiled model whole without running a kernel (kernels.so is
 * loaded, so its static constructors, if any, run): the manifest, its
 * kernels against kernels.so's table (compiled with this very manifest),
 * weights.bin's size, fingerprint and full checksum, the tokenizer when
 * there is one. Returns 0, or -1 with the first problem in
 * xfmr_last_error(). (xfmr_model_open checks all of it but the full
 * checksum, which reads every byte.) */
int xfmr_model_verify(const char *dir);
int xfmr_model_vocab_size(const xfmr_model *model);
/* Positions the compiled KV cache holds. */
int xfmr_model_context_length(const xfmr_model *model);
int xfmr_model_threads(const xfmr_model *model);
/* Bytes of weights the kernels read (the size of weights.bin). */
int64_t xfmr_model_weight_bytes(const xfmr_model *model);
/* Of those, the bytes the kernel backs with huge pages right now (from
 * /proc/self/smaps); -1 where that cannot be read. */
int64_t xfmr_model_weight_huge_page_bytes(const xfmr_model *model);
/* Weight bytes one decode step reads: every matrix once, one row of each
 * embedding table (the compiler counts them; equals the weight bytes for
 * manifests that do not say). */
int64_t xfmr_model_decode_bytes(const xfmr_model *model);
/* The memory bandwidth this model's threads reach reading a buffer of
 * `bytes` (GB/s, median of `reps` passes, each thread its own slice, as
 * the kernels split weights), for comparing a decode step against; the
 * buffer is written once before timing. Returns < 0 on failure. */
double xfmr_model_probe_bandwidth(xfmr_model *model, int64_t bytes, int reps);

/* ---- Sessions: one sequence with its KV cache ----------------------------- */

/* n_ctx <= 0: the model's context length; larger than it: NULL and an
 * error.
 * Sessions of one model may live on different threads; their calls take
 * turns on the model's thread pool. */
xfmr_session *xfmr_session_create(xfmr_model *model, int n_ctx);
void xfmr_session_free(xfmr_session *session);
/* Number of tokens in the cache (the position of the next token). */
int xfmr_session_position(const xfmr_session *session);
/* Forgets every token; the next prefill starts at position 0. */
void xfmr_session_reset(xfmr_session *session);

/* Appends n tokens. all_logits != 0 keeps the logits of every new token
 * (n rows), otherwise only of the last one. Returns 0, or -1 on error
 * (token out of range, context full), in which case the session is
 * unchanged. */
int xfmr_prefill(xfmr_session *session, const int32_t *tokens, int n,
                 int all_logits);
/* Appends one token: xfmr_prefill(session, &token, 1, 0). */
int xfmr_decode(xfmr_session *session, int32_t token);
/* Row-major [rows, vocab] logits of the last prefill/decode call; valid
 * until the session's next call. */
const float *xfmr_logits(const xfmr_session *session, int *rows);

/* Per-kernel time of this session's calls so far (for `xfmr bench`):
 * fills up to cap entries with kernel symbol and total seconds; returns the
 * number of kernels. Timing is off until xfmr_session_profile(s, 1). */
void xfmr_session_profile(xfmr_session *session, int enable);
int xfmr_session_kernel_times(const xfmr_session *session, const char **names,
                              double *seconds, int cap);

/* ---- Sampling -------------------------------------------------------------- */

typedef struct xfmr_sampler_params {
  float temperature; /* <= 0: greedy (arg max) */
  int top_k;         /* <= 0: no limit */
  float top_p;       /* >= 1 or <= 0: no nucleus cut */
  uint64_t seed;
} xfmr_sampler_params;

xfmr_sampler *xfmr_sampler_create(const xfmr_sampler_params *params);
void xfmr_sampler_free(xfmr_sampler *sampler);
int32_t xfmr_sample(xfmr_sampler *sampler, const float *logits, int vocab);

/* ---- Tokenizer ------------------------------------------------------------- */

/* Byte-level BPE (GPT-2, Llama 3, Qwen2/3) and SentencePiece-style BPE with
 * byte fallback (Llama 2, Mistral, TinyLlama), as Hugging Face's tokenizers
 * give them (docs/runtime.md lists what is supported and what is refused). */
typedef struct xfmr_detokenizer xfmr_detokenizer;

/* Loads dir/tokenizer.json (+ dir/tokenizer_config.json when there) if dir
 * has it, else GPT-2's dir/vocab.json + dir/merges.txt: regular files of at
 * most 64 MiB each, validated (ids in range and each once; every merge's
 * parts and result are tokens; every component one xfmr implements); NULL
 * and one line in xfmr_last_error() naming the file and the field (or
 * line) otherwise. */
xfmr_tokenizer *xfmr_tokenizer_load(const char *dir);
void xfmr_tokenizer_free(xfmr_tokenizer *tokenizer);
/* Ids are 0..size-1 (the model's vocabulary and the added tokens). */
int xfmr_tokenizer_vocab_size(const xfmr_tokenizer *tokenizer);
/* The beginning- and end-of-text tokens tokenizer_config.json names
 * (bos_token, eos_token), or -1 when it names none or there is no such
 * file (GPT-2's vocab.json has none). */
int32_t xfmr_tokenizer_bos(const xfmr_tokenizer *tokenizer);
int32_t xfmr_tokenizer_eos(const xfmr_tokenizer *tokenizer);
/* 1 for a special token (added with "special": true, or one of the
 * config's additional_special_tokens), else 0. */
int xfmr_token_is_special(const xfmr_tokenizer *tokenizer, int32_t id);

/* Flags of xfmr_tokenize_ex. */
#define XFMR_TOKENIZE_NO_SPECIAL 1u      /* add no BOS/EOS around the text */
#define XFMR_TOKENIZE_SPECIAL_AS_TEXT 2u /* "<s>" in the text is text, not token <s> */

/* Encodes len bytes of UTF-8 text; writes up to cap ids and returns how many
 * the text has (call again with a larger buffer when the result exceeds
 * cap). Added tokens in the text (<|im_start|>, <s>, ...) become their ids;
 * the tokens the tokenizer puts around a text (BOS, EOS: tokenizer_config's
 * add_bos_token/add_eos_token, else tokenizer.json's post_processor) are
 * added unless XFMR_TOKENIZE_NO_SPECIAL. Invalid UTF-8 is encoded byte by
 * byte. A NULL tokenizer, more than INT_MAX ids or running out of memory
 * returns 0 with xfmr_last_error() set; NULL text is "". Cost: O(n log n)
 * in the length of the longest word. Not safe to call on one tokenizer from
 * two threads at once (it caches short words). */
int xfmr_tokenize_ex(xfmr_tokenizer *tokenizer, const char *text, size_t len,
                     int32_t *ids, int cap, unsigned flags);
/* xfmr_tokenize_ex of a NUL-terminated text, flags 0. */
int xfmr_tokenize(xfmr_tokenizer *tokenizer, const char *text, int32_t *ids,
                  int cap);
/* The bytes one token decodes to on its own (not NUL-terminated; a byte-
 * level token may hold part of a character), or NULL for an unknown id. */
const char *xfmr_token_bytes(const xfmr_tokenizer *tokenizer, int32_t id,
                             size_t *len);

/* Flags of decoding. */
#define XFMR_DECODE_SKIP_SPECIAL 1u /* leave special tokens out */

/* Decodes n ids as Hugging Face's decode() does: bytes joined into UTF-8
 * (an invalid or cut sequence becomes U+FFFD), SentencePiece's leading
 * space removed, clean_up_tokenization_spaces when tokenizer_config.json
 * asks. Writes up to cap - 1 bytes and a NUL into out (when cap > 0) and
 * returns the text's length (call again with a larger buffer when it is
 * >= cap), or -1 for an id outside the vocabulary. */
int64_t xfmr_detokenize(const xfmr_tokenizer *tokenizer, const int32_t *ids, int n,
                        char *out, size_t cap, unsigned flags);

/* Streaming decoding, one id at a time: feed returns the bytes that are
 * complete UTF-8 so far (NUL-terminated, valid until the next call on this
 * detokenizer; possibly empty: a character cut between tokens is held back
 * until it is complete, an invalid sequence becomes U+FFFD); flush returns
 * what is held back (U+FFFD for a cut character) and ends the text. Feeding
 * a whole text gives xfmr_detokenize's bytes without its
 * clean_up_tokenization_spaces (which needs the text after a token). A
 * detokenizer must not outlive its tokenizer. feed returns NULL for an id
 * outside the vocabulary. */
xfmr_detokenizer *xfmr_detokenizer_create(const xfmr_tokenizer *tokenizer,
                                          unsigned flags);
const char *xfmr_detokenizer_feed(xfmr_detokenizer *detokenizer, int32_t id,
                                  size_t *len);
const char *xfmr_detokenizer_flush(xfmr_detokenizer *detokenizer, size_t *len);
/* Starts a new text (what was held back is dropped). */
void xfmr_detokenizer_reset(xfmr_detokenizer *detokenizer);
void xfmr_detokenizer_free(xfmr_detokenizer *detokenizer);

#ifdef __cplusplus
}
#endif

#endif /* XFMR_RUNTIME_H */

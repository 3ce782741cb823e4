// How test/import/data/*.expected were made: each tensor of a GGUF file
// dequantized by llama.cpp's own ggml (ggml_get_type_traits()->to_float),
// its rows put in Hugging Face's order (llama.cpp's q/k permutation
// undone, head_dim from the metadata), hashed as FNV-1a 64 over the f32
// bits. Not built by the project (it needs llama.cpp's libggml-base);
// bench/fetch_llamacpp.sh builds one:
//   cc -O2 ggml_dequant_hashes.c -I SRC/ggml/include -L BIN -lggml-base -o hashes
//   LD_LIBRARY_PATH=BIN ./hashes FILE.gguf > FILE.expected
#include "ggml.h"
#include "gguf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t hf_row_of_gguf_row(int64_t row, int64_t hd) {
  int64_t head = row / hd, r = row % hd;
  return head * hd + (r % 2) * (hd / 2) + r / 2;
}

int main(int argc, char **argv) {
  struct ggml_context *meta = NULL;
  struct gguf_init_params params = {false, &meta};
  struct gguf_context *g = gguf_init_from_file(argv[1], params);
  if (!g)
    return 1;
  int64_t heads = gguf_get_val_u32(g, gguf_find_key(g, "llama.attention.head_count"));
  int64_t embd = gguf_get_val_u32(g, gguf_find_key(g, "llama.embedding_length"));
  int64_t hd = embd / heads;
  for (int64_t i = 0; i < gguf_get_n_tensors(g); ++i) {
    const char *name = gguf_get_tensor_name(g, i);
    struct ggml_tensor *t = ggml_get_tensor(meta, name);
    int64_t n = ggml_nelements(t), cols = t->ne[0], rows = n / cols;
    float *y = malloc(sizeof(float) * (size_t)n), *hf = malloc(sizeof(float) * (size_t)n);
    if (t->type == GGML_TYPE_F32)
      memcpy(y, t->data, sizeof(float) * (size_t)n);
    else
      ggml_get_type_traits(t->type)->to_float(t->data, y, n);
    int permute = strstr(name, "attn_q.") || strstr(name, "attn_k.");
    for (int64_t r = 0; r < rows; ++r)
      memcpy(hf + (permute ? hf_row_of_gguf_row(r, hd) : r) * cols, y + r * cols,
             sizeof(float) * (size_t)cols);
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)hf;
    for (size_t k = 0; k < sizeof(float) * (size_t)n; ++k)
      h = (h ^ p[k]) * 1099511628211ull;
    printf("%s %s %016llx\n", name, ggml_type_name(t->type), (unsigned long long)h);
    free(y);
    free(hf);
  }
  return 0;
}

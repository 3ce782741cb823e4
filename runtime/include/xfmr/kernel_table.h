/* The table a compiled model's kernels.so exports as `xfmr_kernel_table`:
 * the ABI between the code the compiler generates (the xfmr-emit-kernel-table
 * pass builds this layout in LLVM IR) and the runtime, which looks kernels
 * up only here, never by dlsym of a name a manifest gives, and checks every
 * dispatch of the manifest against it before anything runs. */
#ifndef XFMR_KERNEL_TABLE_H
#define XFMR_KERNEL_TABLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout below changes. */
#define XFMR_KERNEL_TABLE_ABI 2

typedef void (*xfmr_kernel_entry)(void *const *buffers, int64_t n, int64_t pos,
                                  int64_t begin, int64_t end);

typedef struct xfmr_kernel_info {
  const char *symbol;          /* the name manifest.txt's kernel lines use */
  xfmr_kernel_entry entry;
  int64_t n_buffers;           /* inputs (a KV cache counts two), then the output */
  const int64_t *buffer_bytes; /* n_buffers sizes: the bytes the kernel may touch */
  int64_t units;               /* work units per call; 0: one per row */
} xfmr_kernel_info;

typedef struct xfmr_kernel_table {
  int64_t abi;            /* XFMR_KERNEL_TABLE_ABI */
  uint64_t manifest_hash; /* xfmr::io::hash64 of the manifest.txt compiled with */
  int64_t max_tokens;     /* rows of every activation buffer */
  int64_t vocab;          /* rows of the embedding table: token ids are below it */
  int64_t kv_context;     /* positions of the KV cache (0: no cache) */
  int64_t n_kernels;
  const xfmr_kernel_info *kernels;
} xfmr_kernel_table;

#ifdef __cplusplus
}
#endif

#endif /* XFMR_KERNEL_TABLE_H */

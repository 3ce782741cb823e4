// The manifest parser and the binding of its dispatches to a kernel table,
// on handwritten manifests and a stub table (no compiler needed).
#include "model.h"
#include "xfmr/io/checksum.h"
#include "xfmr/kernel_table.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace xfmr::rt;

namespace {
void stubKernel(void *const *, int64_t, int64_t, int64_t, int64_t) {}

// A two-dispatch model: an "embedding" (tokens, one weight -> slot 0) and
// a "head" (slot 0, a weight -> logits). max_tokens 4, vocab 8, rows of 16
// floats, one layer of cache (unused by the kernels, but required).
const char *kManifest = "xfmr-manifest 2\n"
                        "model n_ctx 8\n"
                        "max_tokens 4\n"
                        "vocab 8\n"
                        "kv 1 1 8 4 f32\n"
                        "weights_bytes 1024\n"
                        "weight 0 0 512 emb f32\n"
                        "weight 1 512 512 head f32\n"
                        "slot 0 64\n"
                        "kernel 0 xk_emb_entry rows\n"
                        "kernel 1 xk_head_entry 2\n"
                        "dispatch 0 - tok w0 a0\n"
                        "dispatch 1 logits 64 a0 w1 L\n"
                        "weights_checksum 0000000000000001\n"
                        "weights_fingerprint 0000000000000002\n"
                        "end\n";

struct StubTable {
  int64_t embBytes[3] = {4 * 4, 512, 4 * 64};
  int64_t headBytes[3] = {4 * 64, 512, 4 * 8 * 4};
  xfmr_kernel_info infos[2] = {{"xk_emb_entry", stubKernel, 3, embBytes, 0},
                               {"xk_head_entry", stubKernel, 3, headBytes, 2}};
  xfmr_kernel_table table{XFMR_KERNEL_TABLE_ABI, 0, 4, 8, 8, 2, infos};
};

std::string parseError(const std::string &text) {
  Model m;
  std::string error;
  EXPECT_FALSE(parseManifest(text, m, &error)) << text;
  return error;
}

std::string replaced(std::string text, const std::string &from, const std::string &to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

std::string bindError(const std::string &text, StubTable &stub, bool checkHash = false) {
  Model m;
  std::string error;
  if (!parseManifest(text, m, &error))
    return "parse: " + error;
  m.manifestText = text;
  EXPECT_FALSE(bindKernels(m, stub.table, checkHash, &error));
  return error;
}
} // namespace

TEST(Manifest, ParsesAndSizesTheBuffers) {
  Model m;
  std::string error;
  ASSERT_TRUE(parseManifest(kManifest, m, &error)) << error;
  EXPECT_EQ(m.tokensBytes, 16);
  EXPECT_EQ(m.logitsBytes, 4 * 8 * 4);
  EXPECT_EQ(m.cacheBytes, 2 * 8 * 4 * 4);
  ASSERT_EQ(m.slotBytes.size(), 1u);
  EXPECT_EQ(m.slotBytes[0], 4 * 64);
  StubTable stub;
  m.manifestText = kManifest;
  ASSERT_TRUE(bindKernels(m, stub.table, false, &error)) << error;
  EXPECT_EQ(m.kernels[1].fn, &stubKernel);
  // With the hash: only the table compiled with this very text binds.
  stub.table.manifest_hash = xfmr::io::hash64(kManifest, std::strlen(kManifest));
  EXPECT_TRUE(bindKernels(m, stub.table, true, &error)) << error;
  stub.table.manifest_hash ^= 1;
  EXPECT_FALSE(bindKernels(m, stub.table, true, &error));
  EXPECT_NE(error.find("compiled with another manifest.txt"), std::string::npos) << error;
}

TEST(Manifest, RefusesNumbersThatWrapOrOverflow) {
  EXPECT_NE(parseError(replaced(kManifest, "tok w0 a0", "tok w2147483648 a0"))
                .find("bad buffer reference 'w2147483648'"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "weight 1 512 512", "weight 1 9223372036854775744 128"))
                .find("bad weight entry"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "max_tokens 4", "max_tokens 99999999999999999999"))
                .find("bad max_tokens"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "slot 0 64", "slot 0 -64")).find("bad slot entry"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "kv 1 1 8 4 f32", "kv 4096 4096 16777216 65536 f32"))
                .find("too large"),
            std::string::npos);
  // Each number alone in range, the product past any buffer.
  EXPECT_NE(parseError(replaced(replaced(kManifest, "max_tokens 4", "max_tokens 1048576"),
                                "vocab 8", "vocab 16777216"))
                .find("logits exceed"),
            std::string::npos);
}

TEST(Manifest, RefusesRedefinitionsAndMisplacedLines) {
  EXPECT_NE(parseError(replaced(kManifest, "dispatch 1", "kv 1 1 1 1 f32\ndispatch 1"))
                .find("'kv' is given twice"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "weight 1", "weights_bytes 64\nweight 1"))
                .find("'weights_bytes' is given twice"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "kv 1 1 8 4 f32\n", "")).find("before 'kv'"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "kv 1 1 8 4 f32", "kv 1 1 16 4 f32"))
                .find("exceeds the model's 8 positions"),
            std::string::npos);
  // Two cache halves plus 15 more buffers: 17 > 16 slots.
  std::string many = "dispatch 0 - c0";
  for (int i = 0; i < 15; ++i)
    many += " a0";
  EXPECT_NE(parseError(replaced(kManifest, "dispatch 0 - tok w0 a0", many))
                .find("a dispatch needs 2 to 16 buffers"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "xfmr-manifest 2", "xfmr-manifest 1"))
                .find("older xfmr"),
            std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "end\n", "")).find("truncated"), std::string::npos);
  EXPECT_NE(parseError(replaced(kManifest, "model n_ctx 8", "model n_ctx 8\nmodel n_ctx 99"))
                .find("'model n_ctx' is given twice"),
            std::string::npos);
}

TEST(Manifest, BindsOnlyKernelsOfTheTableWithTheirArityAndSizes) {
  StubTable stub;
  // Any exported symbol (libc's abort) is not a kernel.
  EXPECT_NE(bindError(replaced(kManifest, "kernel 1 xk_head_entry", "kernel 1 abort"), stub)
                .find("no kernel 'abort' in its table"),
            std::string::npos);
  // One buffer short of what the kernel takes.
  EXPECT_NE(bindError(replaced(kManifest, "tok w0 a0", "tok a0"), stub)
                .find("passes 2 buffers, the kernel takes 3"),
            std::string::npos);
  // A weight smaller than the kernel reads.
  EXPECT_NE(bindError(replaced(replaced(kManifest, "weight 0 0 512", "weight 0 0 256"),
                               "weight 1 512 512", "weight 1 512 256"),
                      stub)
                .find("buffer 1 has 256 bytes, the kernel may touch 512"),
            std::string::npos);
  // Units the kernel does not split into.
  EXPECT_NE(bindError(replaced(kManifest, "xk_head_entry 2", "xk_head_entry 3"), stub)
                .find("splits into 2 units, the manifest says 3"),
            std::string::npos);
  // The LM head's input rows must be the width the kernel reads.
  EXPECT_NE(bindError(replaced(replaced(kManifest, "slot 0 64", "slot 0 128"), "logits 64",
                               "logits 128"),
                      stub)
                .find("logits input rows of 128 bytes"),
            std::string::npos);
  // A table compiled for another context or vocabulary.
  stub.table.kv_context = 16;
  EXPECT_NE(bindError(kManifest, stub).find("context 16"), std::string::npos);
  stub.table.kv_context = 8;
  stub.table.vocab = 4;
  EXPECT_NE(bindError(kManifest, stub).find("vocab 4"), std::string::npos);
}

// Helpers shared by the kernel benchmarks: one kernel JIT-compiled from a
// one-op @forward, as the runtime would call it.
#ifndef XFMR_BENCH_UTIL_H
#define XFMR_BENCH_UTIL_H

#include "xfmr/Lowering/KernelJit.h"

#include <cstdio>
#include <memory>
#include <string>

namespace xfmr::bench {

constexpr int64_t kMaxTokens = 128;

inline std::string act(int64_t d) {
  return "tensor<?x" + std::to_string(d) + "xf32>";
}

inline std::unique_ptr<mlir::xfmr::JitKernel>
compileKernel(const std::string &src, bool vnni = false, bool amx = false) {
  mlir::xfmr::CPUPipelineOptions o;
  o.maxTokens = kMaxTokens;
  o.vnni = vnni;
  o.amx = amx;
  std::string err;
  auto k = mlir::xfmr::JitKernel::compile(src, o, &err);
  if (!k)
    std::fprintf(stderr, "compile failed: %s\n", err.c_str());
  return k;
}

} // namespace xfmr::bench

#endif

//===- KernelJit.h - compile one kernel in-process and call it --*- C++ -*-===//
//
// Compiles `func.func @forward(...) { one xfmr op; return }` through the real
// CPU pipeline and JIT-links it, for kernel tests, kernel benchmarks and
// (later) the autotuner's measurements. The kernel is called through its
// uniform entry point, exactly as the runtime calls it.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_LOWERING_KERNELJIT_H
#define XFMR_LOWERING_KERNELJIT_H

#include "xfmr/Lowering/Passes.h"
#include "xfmr/Lowering/WeightLayout.h"

#include <memory>
#include <string>

namespace mlir {
class ExecutionEngine;
}

namespace mlir::xfmr {

using KernelEntryFn = void (*)(void *const *buffers, int64_t n, int64_t pos,
                               int64_t begin, int64_t end);

class JitKernel {
public:
  /// nullptr and *error on failure (parse, pipeline or JIT).
  static std::unique_ptr<JitKernel> compile(const std::string &forwardSource,
                                            const CPUPipelineOptions &options,
                                            std::string *error);
  ~JitKernel();

  KernelEntryFn entry() const { return entry_; }
  const std::string &name() const { return name_; }
  /// The layout the kernel reads operand `i` of its op in (pack weights
  /// with packWeight(data, layout(i)) before calling).
  const WeightLayout &layout(unsigned i) const { return layouts_.at(i); }
  /// Work units of a call on n rows.
  int64_t units(int64_t n) const { return units_ ? units_ : n; }
  /// Runs every unit, in `splits` consecutive calls (as `splits` threads
  /// would split them).
  void run(const std::vector<void *> &buffers, int64_t n, int64_t pos,
           int splits = 1) const;

private:
  JitKernel();
  std::unique_ptr<MLIRContext> ctx_;
  std::unique_ptr<ExecutionEngine> engine_;
  KernelEntryFn entry_ = nullptr;
  std::string name_;
  int64_t units_ = 0; // 0: one per row
  std::vector<WeightLayout> layouts_;
};

} // namespace mlir::xfmr

#endif

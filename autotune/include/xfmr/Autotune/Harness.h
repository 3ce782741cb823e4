//===- Harness.h - compile, check and time one candidate --------*- C++ -*-===//
//
// The measurement harness of one tunable kernel. At construction it draws
// random inputs and weights (fixed seed) and runs the kernel's default
// schedule for the reference outputs. A trial then JIT-compiles the kernel
// with the candidate's schedule, packs the same weights into the layout
// that schedule reads, checks both outputs (1 row and 128 rows) against the
// reference (a wrong candidate is reported, never timed or kept), and
// times it on the runtime's own thread pool, split as the runtime splits:
//   decode:  1 row, 5 warm-up calls, then 31 timed calls, median;
//   prefill: 128 rows, 2 warm-up calls, then 7 timed calls, median (not
//            for the LM head, which runs on the last row in prefill too);
// each call reading the next of several copies of the packed weights
// (rotating through HarnessOptions::rotateBytes: the driver passes the
// model's weight bytes, what a decode step streams) so the cache does not
// flatter it. The
// objective is decode + prefill / 64: one generated token plus its share of
// a 128-token prompt over 64 tokens, the default `xfmr bench` workload.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_HARNESS_H
#define XFMR_AUTOTUNE_HARNESS_H

#include "xfmr/Autotune/SearchSpace.h"
#include "xfmr/Autotune/TunableKernel.h"
#include "xfmr/Lowering/Passes.h"

#include <memory>
#include <string>
#include <vector>

namespace xfmr::rt {
class ThreadPool;
}

namespace mlir::xfmr::tune {

struct Measurement {
  bool ok = false;
  std::string error;   // why not ok: compile failure or wrong output
  double relError = 0; // against the default schedule's outputs
  double decodeUs = 0, prefillUs = 0;
  double objectiveUs() const { return decodeUs + prefillUs / 64.0; }
};

struct HarnessOptions {
  CPUPipelineOptions pipeline; // vector width, VNNI, AMX as compile uses
  int threads = 2;
  int64_t rotateBytes = 256ll << 20; // up to 64 copies, at least 2
  double tolerance = 1e-5; // relative L2 against the default schedule
};

class Harness {
public:
  /// nullptr and *error when the kernel's default schedule does not build.
  static std::unique_ptr<Harness> create(const TunableKernel &kernel,
                                         const HarnessOptions &options,
                                         std::string *error);
  ~Harness();

  /// The schedule xfmr-assign-schedules gives the kernel.
  const Candidate &defaultCandidate() const { return base_; }
  /// What the space and the cost model need.
  const KernelShape &shape() const { return shape_; }
  /// Compiles, checks and times `c`.
  Measurement measure(const Candidate &c);
  /// The same for a whole one-op source (the signature's op with any
  /// schedule): what measure() runs, exposed so tests can hand it a kernel
  /// that computes something else and see it rejected.
  Measurement measureSource(const std::string &source);

private:
  Harness();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Candidate base_;
  KernelShape shape_;
};

} // namespace mlir::xfmr::tune

#endif

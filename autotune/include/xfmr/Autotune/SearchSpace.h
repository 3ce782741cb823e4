//===- SearchSpace.h - candidate schedules and their cost model -*- C++ -*-===//
//
// The knobs the tuner turns per kernel family, on top of the default
// schedule (which keeps what the target and weight format decide: vector
// width, VNNI `dot`):
//   linear:  tile_n (the thread split unit) x tile_m (prefill row tile)
//            x unroll (float weights only) x prefetch distance (bytes)
//            x amx (int8 VNNI on AMX targets, prefill only);
//   lm_head: tile_n (vocabulary rows per unit) x prefetch distance (rows).
// Where prefetches land (prefetch_to) is left to the whole-model check.
// The cost model is analytic, not measured: it ranks candidates so the
// search measures the promising ones first.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_AUTOTUNE_SEARCHSPACE_H
#define XFMR_AUTOTUNE_SEARCHSPACE_H

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::xfmr::tune {

struct Candidate {
  int64_t vectorWidth = 16, tileM = 1, tileN = 16, unroll = 1, prefetch = -1;
  bool dot = false, amx = false;
  /// Prefetches land in L2 (prefetcht1) instead of L1. Not in the
  /// per-kernel space: a kernel timed alone cannot tell (within 1-4%);
  /// the whole-model check sweeps it (tools/driver/tune_model.cpp).
  bool prefetchL2 = false;
  /// The #xfmr.schedule text lowering reads.
  std::string schedule() const;
  /// Parses schedule() text back; false on anything else (other spacing,
  /// signs, leading zeros, an explicit default, out-of-range integers), so
  /// what parses prints back to the same text.
  static bool parse(const std::string &text, Candidate *out);
  /// The ranges #xfmr.schedule's verifier accepts (ScheduleAttr::verify in
  /// dialects/lib/IR/XfmrDialect.cpp); else false and *why names the knob.
  /// Schedules read from outside (a tuning database, an import) must pass
  /// it before a compile is given them.
  bool valid(std::string *why) const;
  bool operator==(const Candidate &o) const { return schedule() == o.schedule(); }
};

/// What the cost model and the space need to know about a kernel.
struct KernelShape {
  bool lmHead = false;
  int64_t K = 0, N = 0;      // linear [K, N]; lm_head: K = D, N = V
  double weightBytes = 0;    // as stored (codes; scales aside)
  bool floatWeights = false; // f32/bf16 widened: FMA tiles
  bool int4 = false;
  bool gated = false;        // linear [Wg | Wu]: blocks split in two halves
  bool amxCapable = false;   // int8 VNNI on a target with AMX
  int threads = 2;
};

/// Every candidate for a kernel whose default schedule is `base`.
std::vector<Candidate> searchSpace(const KernelShape &k, const Candidate &base);

/// Estimated cost (arbitrary units, lower is better) of one decode step
/// plus 1/64 of a 128-row prefill call: the weighting the tuner's
/// objective uses (see Harness.h).
double estimateCost(const KernelShape &k, const Candidate &c);

/// Candidates differing from `c` in one knob by one step of its range.
std::vector<Candidate> neighbours(const KernelShape &k,
                                  const std::vector<Candidate> &space,
                                  const Candidate &c);

} // namespace mlir::xfmr::tune

#endif

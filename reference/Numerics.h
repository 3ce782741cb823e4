// The scalar and row arithmetic of the interpreter's ops, in one place so
// that an op and the fused form of it (a norm in a linear's prologue, an
// activation in its epilogue) compute exactly the same numbers.
#ifndef XFMR_REFERENCE_NUMERICS_H
#define XFMR_REFERENCE_NUMERICS_H

#include "xfmr/IR/XfmrDialect.h"

#include <cstdint>

namespace xfmr::reference::detail {

/// GELU, tanh approximation (GPT-2's gelu_new).
double gelu(double x);
/// x * sigmoid(x).
double silu(double x);
double activate(mlir::xfmr::GatedActivation a, double x);

/// y = (x - mean) / sqrt(var + eps) * gamma + beta over n values (biased
/// variance); y may alias x.
void layerNorm(const double *x, int64_t n, const float *gamma,
               const float *beta, double eps, double *y);
/// y = x / sqrt(mean(x^2) + eps) * gamma; y may alias x.
void rmsNorm(const double *x, int64_t n, const float *gamma, double eps,
             double *y);

/// Rotary embedding of `cols` values (heads of `headDim`) at `position`, in
/// the rotate-half pairing, with inverse frequencies `inv` (headDim / 2 of
/// them); y may not alias x. xfmr.rotary and attention with rope_theta.
void rotate(const double *x, int64_t cols, int64_t headDim, double position,
            llvm::ArrayRef<double> inv, double *y);

/// Storage roundings, through f32 as the kernels see the values.
double roundToHalf(double x);
double roundToBF16(double x);
/// n values rounded to int8 with one scale max|x| / 127 (io::roundInt8).
void roundInt8(double *x, int64_t n);

/// The multiplier of the `draw`-th activation-jitter draw: 1 + jitter * (2u
/// - 1), u uniform in [0, 1). The old reference's splitmix64 stream, whose
/// state after draw i is (i + 2) * golden, so any draw can be computed
/// directly: rows of one call need not be drawn in the old token order.
double jitterFactor(uint64_t draw, double jitter);

} // namespace xfmr::reference::detail

#endif

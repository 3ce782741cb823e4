#include "DotInputRounding.h"

#include "Frame.h"
#include "Numerics.h"

#include "xfmr/IR/XfmrDialect.h"

#include <map>
#include <optional>
#include <tuple>

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference::detail {

namespace {
constexpr int64_t kBlock = 32; // activation elements per int8 scale

QuantAttr quantOf(Value weight) {
  return dyn_cast_or_null<QuantAttr>(
      cast<RankedTensorType>(weight.getType()).getEncoding());
}

int64_t reduction(Value input) {
  return cast<RankedTensorType>(input.getType()).getDimSize(1);
}

/// Whether the kernel of `op` multiplies with dot products: its schedule
/// says so when it has one; else wherever the scheme's blocks fit.
bool usesDot(ScheduleAttr schedule, Value input) {
  if (schedule)
    return schedule.getDot();
  return reduction(input) % kBlock == 0;
}
} // namespace

void DotInputRounding::plan(func::FuncOp fn, const InterpreterOptions &options) {
  sites_.clear();
  siteOf_.clear();
  drawsPerRow_ = 0;
  jitter_ = options.activationJitter;
  if (!options.dotInputRounding)
    return;
  // What a site's rows are: the input, the fused norm's parameters and the
  // rounding. Two ops with the same key round the same rows.
  using Key = std::tuple<void *, void *, void *, double, Kind>;
  std::map<Key, int> byKey;
  auto add = [&](Operation *op, Value input, Value gamma, Value beta,
                 double eps, Kind kind) {
    Key key{input.getAsOpaquePointer(), gamma.getAsOpaquePointer(),
            beta.getAsOpaquePointer(), eps, kind};
    auto [it, inserted] = byKey.emplace(key, int(sites_.size()));
    if (inserted) {
      sites_.push_back({kind, drawsPerRow_});
      drawsPerRow_ += uint64_t(reduction(input));
    }
    siteOf_[op] = it->second;
  };
  fn.walk([&](Operation *op) {
    if (auto lin = dyn_cast<LinearOp>(op)) {
      auto wt = cast<RankedTensorType>(lin.getWeight().getType());
      std::optional<Kind> kind;
      if (QuantAttr q = quantOf(lin.getWeight()); q && q.hasDotKernel())
        kind = Kind::Int8Blocks; // VNNI: x quantized per block of 32
      else if (wt.getElementType().isBF16())
        kind = Kind::BF16; // AVX512-BF16: x rounded to bf16
      if (!kind || !usesDot(lin.getScheduleAttr(), lin.getInput()))
        return;
      double eps = lin.getNormEpsilon() ? lin.getNormEpsilon()->convertToDouble() : 0;
      add(op, lin.getInput(), lin.getNormGamma(), lin.getNormBeta(), eps, *kind);
    } else if (auto head = dyn_cast<LMHeadOp>(op)) {
      // The VNNI LM head exists for int8 rows and int4 rows in groups of 32.
      QuantAttr q = quantOf(head.getWeight());
      if (q && q.hasDotKernel() && (q.getBits() == 8 || q.getGroup() == kBlock) &&
          usesDot(head.getScheduleAttr(), head.getInput()))
        add(op, head.getInput(), Value(), Value(), 0, Kind::Int8Blocks);
    }
  });
}

int DotInputRounding::siteOf(Operation *op) const {
  auto it = siteOf_.find(op);
  return it == siteOf_.end() ? -1 : it->second;
}

void DotInputRounding::apply(int site, Tensor &x, uint64_t firstDraw) const {
  const Site &s = sites_[size_t(site)];
  for (int64_t r = 0; r < x.rows; ++r) {
    double *row = x.row(r);
    if (jitter_ != 0) {
      uint64_t draw = firstDraw + uint64_t(r) * drawsPerRow_ + s.offset;
      for (int64_t i = 0; i < x.cols; ++i)
        row[i] *= jitterFactor(draw + uint64_t(i), jitter_);
    }
    if (s.kind == Kind::BF16) {
      for (int64_t i = 0; i < x.cols; ++i)
        row[i] = roundToBF16(row[i]);
      continue;
    }
    // Whole blocks only: a tail shorter than a block stays as it is.
    for (int64_t b = 0; b + kBlock <= x.cols; b += kBlock)
      roundInt8(row + b, kBlock);
  }
}

} // namespace xfmr::reference::detail

#include "Frame.h"

using namespace mlir;

namespace xfmr::reference::detail {

const Tensor *Frame::activation(Operation *user, Value v) const {
  if (const Tensor *t = lookup(v))
    return t;
  user->emitOpError() << "operand of type " << v.getType()
                      << " is not an activation computed by an earlier op";
  return nullptr;
}

const Tensor &Frame::prepared(Operation *op, const Tensor &x,
                              const std::function<void(Tensor &)> &norm) {
  int site = rounding_.siteOf(op);
  if (site < 0) {
    if (!norm)
      return x;
    scratch_ = x;
    norm(scratch_);
    return scratch_;
  }
  std::optional<Tensor> &slot = prepared_[size_t(site)];
  if (!slot) {
    slot = x;
    if (norm)
      norm(*slot);
    rounding_.apply(site, *slot, firstDraw_);
  }
  return *slot;
}

const HandlerRegistry &handlers() {
  static const HandlerRegistry registry = [] {
    HandlerRegistry r;
    registerRowOps(r);
    registerMatrixOps(r);
    registerAttentionOps(r);
    return r;
  }();
  return registry;
}

} // namespace xfmr::reference::detail

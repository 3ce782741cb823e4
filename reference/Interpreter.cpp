// The interpreter's driver: checks the module once, then runs @forward's
// ops in order through the handler table (Frame.h), collecting the first
// error diagnostic an op emits as error().
#include "Interpreter.h"

#include "Frame.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::xfmr;

namespace xfmr::reference {
using namespace detail;

namespace {
/// The first error diagnostic emitted while it lives, as one line.
class ErrorCapture {
public:
  ErrorCapture(MLIRContext *ctx, std::string &out)
      : out_(out), handler_(ctx, [this](Diagnostic &d) {
          if (d.getSeverity() == DiagnosticSeverity::Error && out_.empty()) {
            std::string loc; // file:line:col of parsed IR; imported IR has none
            if (auto f = dyn_cast<FileLineColLoc>(d.getLocation()); f && f.getLine() > 0)
              loc = (f.getFilename().str() + ":" + std::to_string(f.getLine()) + ":" +
                     std::to_string(f.getColumn()) + ": ");
            out_ = loc + d.str();
          }
          return success();
        }) {}

private:
  std::string &out_;
  ScopedDiagnosticHandler handler_;
};

bool isTokens(Type t) {
  auto r = dyn_cast<RankedTensorType>(t);
  return r && r.getRank() == 1 && r.getElementType().isInteger(32);
}
} // namespace

struct Interpreter::Impl {
  ModuleOp module;
  func::FuncOp fn;
  InterpreterOptions options;
  WeightStore weights;
  DotInputRounding rounding;
  std::optional<KVCacheStore> cache;
  std::string error;
  bool ok = false;
  int64_t pos = 0, vocab = 0;
  uint64_t drawsUsed = 0; // jitter draws taken by the calls so far

  LogicalResult prepare(const WeightLoader &load);
  LogicalResult run(ArrayRef<int32_t> tokens, Logits &out);
};

/// Everything that does not depend on the tokens is checked here, once:
/// a forward call can then fail only on its own inputs (a token outside the
/// vocabulary, positions past the context).
LogicalResult Interpreter::Impl::prepare(const WeightLoader &load) {
  if (failed(mlir::verify(module)))
    return failure();
  fn = module.lookupSymbol<func::FuncOp>("forward");
  if (!fn || fn.isExternal())
    return module.emitError("no func.func @forward with a body to interpret");
  FunctionType type = fn.getFunctionType();
  auto result = type.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(type.getResult(0))
                    : RankedTensorType();
  if (type.getNumInputs() != 3 || !isTokens(type.getInput(0)) ||
      !type.getInput(1).isIndex() || !isa<KVCacheType>(type.getInput(2)) ||
      !result || result.getRank() != 2 || result.isDynamicDim(1))
    return fn.emitError() << "@forward must be (tensor<?xi32>, index, "
                             "!xfmr.kv_cache<...>) -> tensor<?xV>, got "
                          << type;
  if (!fn.getBody().hasOneBlock())
    return fn.emitError("@forward must be one block (straight-line code)");
  vocab = result.getDimSize(1);
  Block &body = fn.getBody().front();
  Value tokens = body.getArgument(0), posArg = body.getArgument(1),
        cacheArg = body.getArgument(2);
  for (Operation &op : body) {
    if (isa<func::ReturnOp>(op))
      continue;
    if (isa<DispatchOp>(op))
      return op.emitError("xfmr.dispatch: outlined IR is not interpreted; "
                          "interpret the module before xfmr-outline-kernels");
    if (!handlers().find(op.getName().getStringRef()))
      return op.emitError() << "unknown op '" << op.getName()
                            << "': the reference interpreter has no handler for it";
    // Handlers take the call's tokens, position and cache from the frame:
    // such operands must be @forward's own.
    for (Value v : op.getOperands()) {
      bool ok = true;
      if (v.getType().isIndex())
        ok = v == posArg;
      else if (isa<KVCacheType>(v.getType()))
        ok = v == cacheArg;
      else if (isTokens(v.getType()))
        ok = v == tokens;
      if (!ok)
        return op.emitOpError() << "operand of type " << v.getType()
                                << " must be @forward's argument of that type";
    }
  }
  if (failed(weights.load(fn, load)))
    return failure();
  cache.emplace(cast<KVCacheType>(cacheArg.getType()));
  rounding.plan(fn, options);
  return success();
}

LogicalResult Interpreter::Impl::run(ArrayRef<int32_t> tokens, Logits &out) {
  Frame frame(tokens, pos, *cache, weights, rounding, drawsUsed);
  Block &body = fn.getBody().front();
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      const Tensor *logits = frame.activation(ret, ret.getOperand(0));
      if (!logits)
        return failure();
      out.assign(size_t(logits->rows), {});
      for (int64_t t = 0; t < logits->rows; ++t)
        out[size_t(t)].assign(logits->row(t), logits->row(t) + logits->cols);
      return success();
    }
    if (failed((*handlers().find(op.getName().getStringRef()))(&op, frame)))
      return failure();
    // A handler's result must have the shape its type states: catches an
    // interpreter bug where it happens rather than in the logits.
    for (Value r : op.getResults()) {
      auto t = dyn_cast<RankedTensorType>(r.getType());
      if (!t || isa<WeightOp, ConcatOp>(op))
        continue;
      const Tensor *v = frame.lookup(r);
      if (!v || v->rows != frame.rows() || v->cols != t.getDimSize(1))
        return op.emitOpError("interpreter bug: the handler's result is missing or "
                              "not of the result type's shape");
    }
  }
  return fn.emitError("@forward has no return");
}

Interpreter::Interpreter(ModuleOp module, WeightLoader load,
                         const InterpreterOptions &options)
    : impl_(std::make_unique<Impl>()) {
  impl_->module = module;
  impl_->options = options;
  ErrorCapture capture(module.getContext(), impl_->error);
  impl_->ok = succeeded(impl_->prepare(load));
  if (!impl_->ok && impl_->error.empty())
    impl_->error = "the module cannot be interpreted";
}

Interpreter::~Interpreter() = default;
Interpreter::Interpreter(Interpreter &&) noexcept = default;
Interpreter &Interpreter::operator=(Interpreter &&) noexcept = default;

bool Interpreter::ok() const { return impl_->ok; }
const std::string &Interpreter::error() const { return impl_->error; }

Logits Interpreter::forward(const std::vector<int32_t> &tokens) {
  Logits out;
  if (!impl_->ok || tokens.empty())
    return out;
  impl_->error.clear();
  ErrorCapture capture(impl_->module.getContext(), impl_->error);
  if (failed(impl_->run(tokens, out))) {
    if (impl_->error.empty())
      impl_->error = "forward failed";
    return {};
  }
  impl_->pos += int64_t(tokens.size());
  impl_->drawsUsed += tokens.size() * impl_->rounding.drawsPerRow();
  return out;
}

void Interpreter::reset() {
  impl_->pos = 0;
  impl_->drawsUsed = 0;
  if (impl_->cache)
    impl_->cache->clear();
}

int64_t Interpreter::position() const { return impl_->pos; }
int64_t Interpreter::vocab() const { return impl_->vocab; }
int64_t Interpreter::contextLength() const {
  return impl_->cache ? impl_->cache->context() : 0;
}

} // namespace xfmr::reference

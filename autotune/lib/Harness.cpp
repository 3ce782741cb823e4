//===- Harness.cpp - compile, check and time one candidate -----------------===//
#include "xfmr/Autotune/Harness.h"
#include "xfmr/Lowering/KernelJit.h"
#include "xfmr/large_pages.h"
#include "xfmr/thread_pool.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
using namespace mlir::xfmr;
using namespace mlir::xfmr::tune;

namespace {
constexpr int64_t kPrefillRows = 128;

Operation *theOp(ModuleOp m) {
  auto fn = *m.getOps<func::FuncOp>().begin();
  return &fn.getBody().front().front();
}

std::string print(ModuleOp m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os);
  return s;
}

double relL2(const std::vector<float> &a, const std::vector<float> &b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]))
      return INFINITY;
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Call {
  KernelEntryFn entry;
  void *const *buffers;
  int64_t n;
};
void runSlice(void *ctx, int64_t b, int64_t e) {
  auto *c = static_cast<Call *>(ctx);
  c->entry(c->buffers, c->n, 0, b, e);
}
} // namespace

struct Harness::Impl {
  HarnessOptions options;
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module; // the signature, parsed
  std::unique_ptr<::xfmr::rt::ThreadPool> pool;
  // Operand 1 is the weight ([K, N] or [V, D]); the others are f32 rows
  // (dynamic first dim: kPrefillRows) or vectors.
  std::vector<std::vector<float>> operands;
  std::vector<float> logicalWeight;
  std::vector<int64_t> outputCols;
  std::vector<float> refDecode, refPrefill; // default schedule's outputs
  // Copies of the packed weight, in the huge-page memory the runtime
  // keeps weights in, so the kernel streams them as it will in the model.
  ::xfmr::rt::LargePageBuffer rotation;
  bool lmHead = false;

  Measurement run(const std::string &source, bool reference);
};

Harness::Harness() = default;
Harness::~Harness() = default;

std::unique_ptr<Harness> Harness::create(const TunableKernel &kernel,
                                         const HarnessOptions &options,
                                         std::string *error) {
  std::unique_ptr<Harness> h(new Harness());
  h->impl_ = std::make_unique<Impl>();
  Impl &im = *h->impl_;
  im.options = options;
  DialectRegistry registry;
  registry.insert<XfmrDialect, func::FuncDialect>();
  im.ctx.appendDialectRegistry(registry);
  im.module = parseSourceString<ModuleOp>(kernel.source, &im.ctx);
  if (!im.module) {
    *error = "the kernel signature does not parse";
    return nullptr;
  }
  // The default schedule: what xfmr-assign-schedules gives the op.
  {
    OwningOpRef<ModuleOp> copy = im.module->clone();
    PassManager pm(&im.ctx);
    CPUPipelineOptions o = options.pipeline;
    pm.addPass(createXfmrAssignSchedulesPass(assignSchedulesOptions(o)));
    if (failed(pm.run(*copy))) {
      *error = "no default schedule";
      return nullptr;
    }
    std::string s;
    llvm::raw_string_ostream os(s);
    theOp(*copy)->getAttr("schedule").print(os);
    if (!Candidate::parse(s, &h->base_)) {
      *error = "default schedule '" + s + "' is not a tuner candidate";
      return nullptr;
    }
  }
  Operation *op = theOp(*im.module);
  auto wt = cast<RankedTensorType>(op->getOperand(1).getType());
  KernelShape &ks = h->shape_;
  ks.lmHead = im.lmHead = kernel.family == "lm_head";
  ks.K = ks.lmHead ? wt.getDimSize(1) : wt.getDimSize(0);
  ks.N = ks.lmHead ? wt.getDimSize(0) : wt.getDimSize(1);
  ks.threads = options.threads;
  ks.weightBytes = double(wt.getNumElements()) * double(wt.getElementTypeBitWidth()) / 8;
  auto q = dyn_cast_or_null<QuantAttr>(wt.getEncoding());
  ks.floatWeights = !q && !h->base_.dot;
  ks.int4 = q && q.getBits() == 4;
  auto lin = dyn_cast<LinearOp>(op);
  ks.gated = lin && lin.getGated();
  ks.amxCapable = options.pipeline.amx && q && q.getBits() == 8 && h->base_.dot;

  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t n = 1;
    for (int64_t d : t.getShape())
      n *= d == ShapedType::kDynamic ? kPrefillRows : d;
    std::vector<float> data(static_cast<size_t>(n));
    float scale = i == 1 ? 0.05f : 1.0f;
    for (float &x : data)
      x = nd(rng) * scale;
    if (i == 1)
      im.logicalWeight = data;
    im.operands.push_back(std::move(data));
  }
  for (Type t : op->getResultTypes())
    im.outputCols.push_back(cast<RankedTensorType>(t).getDimSize(1));
  im.pool = std::make_unique<::xfmr::rt::ThreadPool>(options.threads);

  Measurement ref = im.run(print(*im.module), true); // no schedule: the default
  if (!ref.ok) {
    *error = "the default schedule fails: " + ref.error;
    return nullptr;
  }
  return h;
}

Measurement Harness::measure(const Candidate &c) {
  OwningOpRef<ModuleOp> m = impl_->module->clone();
  Attribute a = parseAttribute(c.schedule(), &impl_->ctx);
  if (!a) {
    Measurement bad;
    bad.error = "schedule does not parse: " + c.schedule();
    return bad;
  }
  theOp(*m)->setAttr("schedule", a);
  return impl_->run(print(*m), false);
}

Measurement Harness::measureSource(const std::string &source) {
  return impl_->run(source, false);
}

Measurement Harness::Impl::run(const std::string &source, bool reference) {
  Measurement r;
  CPUPipelineOptions po = options.pipeline;
  po.fuse = false; // the signature is already fused
  po.maxTokens = kPrefillRows;
  std::string err;
  std::unique_ptr<JitKernel> k = JitKernel::compile(source, po, &err);
  if (!k) {
    r.error = "compile: " + err;
    return r;
  }
  std::vector<uint8_t> packed = packWeight(logicalWeight, k->layout(1));
  const size_t bytes = packed.size();
  size_t copies = std::clamp<size_t>(size_t(options.rotateBytes) / std::max<size_t>(bytes, 1), 2, 64);
  if (rotation.size() != copies * bytes)
    rotation = ::xfmr::rt::LargePageBuffer(copies * bytes);
  if (!rotation.ok()) {
    r.error = "cannot allocate " + std::to_string(copies * bytes) + " bytes of weight copies";
    return r;
  }
  for (size_t c = 0; c < copies; ++c)
    std::memcpy(rotation.data() + c * bytes, packed.data(), bytes);

  int64_t outCols = outputCols.front();
  std::vector<float> out(size_t(kPrefillRows * outCols));
  std::vector<void *> buffers;
  for (auto &o : operands)
    buffers.push_back(o.data());
  buffers.push_back(out.data());
  size_t next = 0;
  auto call = [&](int64_t n) {
    buffers[1] = rotation.data() + (next++ % copies) * bytes;
    Call c{k->entry(), buffers.data(), n};
    pool->run(runSlice, &c, k->units(n));
  };

  // Check: 1 row and 128 rows, against the default schedule's outputs.
  call(1);
  std::vector<float> dec(out.begin(), out.begin() + outCols);
  call(kPrefillRows);
  std::vector<float> pre(out);
  if (reference) {
    refDecode = dec;
    refPrefill = pre;
  } else {
    r.relError = std::max(relL2(dec, refDecode, dec.size()),
                          relL2(pre, refPrefill, pre.size()));
    if (!(r.relError <= options.tolerance)) {
      r.error = "wrong output: relative error " + std::to_string(r.relError) +
                " against the default schedule";
      return r;
    }
  }
  using Clock = std::chrono::steady_clock;
  auto timeCalls = [&](int64_t n, int warm, int reps) {
    for (int i = 0; i < warm; ++i)
      call(n);
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
      auto t0 = Clock::now();
      call(n);
      t.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    return median(t);
  };
  r.decodeUs = timeCalls(1, 5, 31);
  // The LM head runs on the last row only, in prefill as in decode.
  r.prefillUs = lmHead ? 0 : timeCalls(kPrefillRows, 2, 7);
  r.ok = true;
  return r;
}

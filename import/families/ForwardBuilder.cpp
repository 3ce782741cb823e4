// The scaffolding every importer shares (ForwardBuilder.h).
#include "ForwardBuilder.h"

using namespace mlir;
using namespace mlir::xfmr;

ForwardBuilder::ForwardBuilder(MLIRContext *ctx, const ::xfmr::io::ModelDir &files,
                               StringRef architecture,
                               const std::vector<std::pair<std::string, int64_t>> &model,
                               KVCacheType cacheType, int64_t vocab)
    : b(ctx), loc(UnknownLoc::get(ctx)), files_(files) {
  ctx->loadDialect<XfmrDialect, func::FuncDialect>();
  module_ = ModuleOp::create(loc);
  SmallVector<NamedAttribute> entries;
  // A negative value is one the source does not have (a GGUF without
  // bos/eos ids): left out, as the manifest's numbers are non-negative.
  for (const auto &[key, value] : model)
    if (value >= 0)
      entries.push_back(b.getNamedAttr(key, i64(value)));
  module_->getOperation()->setAttr("xfmr.model", b.getDictionaryAttr(entries));
  module_->getOperation()->setAttr("xfmr.architecture", b.getStringAttr(architecture));
  b.setInsertionPointToEnd(module_->getBody());
  auto tokensType = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  auto fn = b.create<func::FuncOp>(
      loc, "forward",
      b.getFunctionType({tokensType, b.getIndexType(), cacheType}, {act(vocab)}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  tokens = entry->getArgument(0);
  pos = entry->getArgument(1);
  cache = entry->getArgument(2);
}

RankedTensorType ForwardBuilder::act(int64_t d) const {
  return RankedTensorType::get({ShapedType::kDynamic, d}, Float32Type::get(b.getContext()));
}

Value ForwardBuilder::weight(const std::string &canonical, ArrayRef<int64_t> shape,
                             int64_t colOffset, bool transposed) {
  auto op = b.create<WeightOp>(loc, RankedTensorType::get(shape, b.getF32Type()),
                               b.getStringAttr(files_.fileName(canonical)), IntegerAttr(),
                               transposed ? b.getUnitAttr() : UnitAttr());
  if (colOffset >= 0)
    op.setColumnOffsetAttr(i64(colOffset));
  return op;
}

namespace {
/// Whether every use of `w` reduces along the stored tensor's rows, where a
/// file's quantized blocks run: a linear's transposed [out, in] view (with
/// `columns from`, whole stored rows: one part of a fused matrix), or an LM
/// head / embedding table as stored.
bool reducesAlongStoredRows(WeightOp w) {
  if ((w.getColumnOffset() && !w.getTransposed()) || w->use_empty())
    return false;
  for (OpOperand &use : w->getUses()) {
    Operation *op = use.getOwner();
    bool linear = isa<LinearOp>(op) && use.getOperandNumber() == 1;
    bool table = isa<LMHeadOp, EmbeddingOp>(op) && use.getOperandNumber() == 1;
    if (!(linear && w.getTransposed()) && !(table && !w.getTransposed()))
      return false;
  }
  return true;
}

/// `xfmr.quant` for a scheme the checkpoint stores.
RankedTensorType storedType(RankedTensorType t, const ::xfmr::io::QuantScheme &s) {
  MLIRContext *ctx = t.getContext();
  const int64_t bits = s.format == ::xfmr::io::WeightFormat::Int8   ? 8
                       : s.format == ::xfmr::io::WeightFormat::Int6 ? 6
                                                                     : 4;
  Type scale = s.f16Scales ? Type(Float16Type::get(ctx)) : Type(Float32Type::get(ctx));
  auto q = QuantAttr::get(ctx, bits, s.group, scale, s.zeroPoint, s.superBlock);
  return RankedTensorType::get(t.getShape(), IntegerType::get(ctx, bits), q);
}
} // namespace

void ForwardBuilder::typeStoredWeights() {
  module_->walk([&](WeightOp w) {
    const ::xfmr::io::Checkpoint::Tensor *t = files_.checkpoint().find(w.getName().str());
    if (!t)
      return;
    std::optional<::xfmr::io::QuantScheme> s = files_.checkpoint().storedScheme(*t);
    // Elsewhere (a view across the blocks) the weight stays f32, which
    // holds the dequantized values exactly.
    if (s && reducesAlongStoredRows(w))
      w.getResult().setType(storedType(cast<RankedTensorType>(w.getType()), *s));
  });
}

OwningOpRef<ModuleOp> ForwardBuilder::finish(Value logits) {
  b.create<func::ReturnOp>(loc, logits);
  typeStoredWeights();
  return std::move(module_);
}

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
  for (const auto &[key, value] : model)
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

OwningOpRef<ModuleOp> ForwardBuilder::finish(Value logits) {
  b.create<func::ReturnOp>(loc, logits);
  return std::move(module_);
}

//===- EmitKernelTable.cpp - the table the runtime binds kernels from -----===//
//
// Builds, in the LLVM dialect, the constant `xfmr_kernel_table` whose C
// layout is runtime/include/xfmr/kernel_table.h:
//
//   struct info  { ptr symbol; ptr entry; i64 n_buffers; ptr buffer_bytes; i64 units; }
//   struct table { i64 abi; i64 manifest_hash; i64 max_tokens; i64 vocab;
//                  i64 kv_context; i64 n_kernels; ptr kernels; }
//
//===----------------------------------------------------------------------===//
#include "xfmr/Lowering/Passes.h"

namespace mlir::xfmr {
#define GEN_PASS_DEF_XFMREMITKERNELTABLEPASS
#include "xfmr/Lowering/Passes.h.inc"
} // namespace mlir::xfmr

using namespace mlir;
using namespace mlir::xfmr;

namespace {
/// Keep in step with XFMR_KERNEL_TABLE_ABI in kernel_table.h.
constexpr int64_t kTableABI = 2;

struct EmitKernelTable
    : mlir::xfmr::impl::XfmrEmitKernelTablePassBase<EmitKernelTable> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    Location loc = module.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto i8 = IntegerType::get(ctx, 8);
    auto infoType = LLVM::LLVMStructType::getLiteral(ctx, {ptr, ptr, i64, ptr, i64});
    auto tableType =
        LLVM::LLVMStructType::getLiteral(ctx, {i64, i64, i64, i64, i64, i64, ptr});
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());

    struct Row {
      std::string entry;
      int64_t units;
      SmallVector<int64_t> bytes;
    };
    SmallVector<Row> rows;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>()) {
      if (!f->hasAttr("xfmr.kernel") || f.isExternal())
        continue;
      auto bytes = f->getAttrOfType<DenseI64ArrayAttr>("xfmr.buffer_bytes");
      if (!bytes) {
        f.emitError("kernel without xfmr.buffer_bytes; run xfmr-lower-kernels-to-loops");
        return signalPassFailure();
      }
      std::string entry = (f.getSymName() + "_entry").str();
      if (!module.lookupSymbol<LLVM::LLVMFuncOp>(entry)) {
        f.emitError("kernel without an entry point; run xfmr-emit-kernel-entries first");
        return signalPassFailure();
      }
      auto work = f->getAttrOfType<IntegerAttr>("xfmr.work");
      rows.push_back({entry, work ? work.getInt() : 0,
                      SmallVector<int64_t>(bytes.asArrayRef())});
    }

    auto constant = [&](int64_t v) {
      return b.create<LLVM::ConstantOp>(loc, i64, b.getI64IntegerAttr(v));
    };
    // A global whose value is built by an initializer region.
    auto initialized = [&](Type type, StringRef name, LLVM::Linkage linkage,
                           function_ref<Value()> body) {
      OpBuilder::InsertionGuard guard(b);
      auto g = b.create<LLVM::GlobalOp>(loc, type, /*isConstant=*/true, linkage, name,
                                        Attribute());
      b.createBlock(&g.getInitializerRegion());
      b.create<LLVM::ReturnOp>(loc, body());
      return g;
    };

    SmallVector<std::pair<std::string, std::string>> names; // (name global, bytes global)
    for (auto [i, row] : llvm::enumerate(rows)) {
      std::string base = "__xfmr_kernel_" + std::to_string(i);
      std::string text = row.entry + '\0';
      b.create<LLVM::GlobalOp>(loc, LLVM::LLVMArrayType::get(i8, text.size()), true,
                               LLVM::Linkage::Internal, base + "_name",
                               b.getStringAttr(text));
      auto bytesType = RankedTensorType::get({int64_t(row.bytes.size())}, i64);
      b.create<LLVM::GlobalOp>(loc, LLVM::LLVMArrayType::get(i64, row.bytes.size()), true,
                               LLVM::Linkage::Internal, base + "_buffers",
                               DenseElementsAttr::get(bytesType, ArrayRef(row.bytes)));
      names.push_back({base + "_name", base + "_buffers"});
    }

    auto infosType = LLVM::LLVMArrayType::get(infoType, rows.size());
    initialized(infosType, "__xfmr_kernel_infos", LLVM::Linkage::Internal, [&]() -> Value {
      Value arr = b.create<LLVM::UndefOp>(loc, infosType);
      for (auto [i, row] : llvm::enumerate(rows)) {
        Value info = b.create<LLVM::UndefOp>(loc, infoType);
        Value fields[] = {
            b.create<LLVM::AddressOfOp>(loc, ptr, names[i].first),
            b.create<LLVM::AddressOfOp>(loc, ptr, row.entry),
            constant(int64_t(row.bytes.size())),
            b.create<LLVM::AddressOfOp>(loc, ptr, names[i].second),
            constant(row.units),
        };
        for (auto [k, v] : llvm::enumerate(fields))
          info = b.create<LLVM::InsertValueOp>(loc, info, v, ArrayRef<int64_t>{int64_t(k)});
        arr = b.create<LLVM::InsertValueOp>(loc, arr, info, ArrayRef<int64_t>{int64_t(i)});
      }
      return arr;
    });

    initialized(tableType, "xfmr_kernel_table", LLVM::Linkage::External, [&]() -> Value {
      Value t = b.create<LLVM::UndefOp>(loc, tableType);
      Value fields[] = {
          constant(kTableABI),
          constant(int64_t(uint64_t(manifestHash))),
          constant(maxTokens),
          constant(vocab),
          constant(kvContext),
          constant(int64_t(rows.size())),
          b.create<LLVM::AddressOfOp>(loc, ptr, "__xfmr_kernel_infos"),
      };
      for (auto [k, v] : llvm::enumerate(fields))
        t = b.create<LLVM::InsertValueOp>(loc, t, v, ArrayRef<int64_t>{int64_t(k)});
      return t;
    });
  }
};
} // namespace

//===- Manifest.cpp - export @forward's dispatches for the runtime ---------===//
#include "xfmr/Lowering/Manifest.h"
#include "xfmr/Lowering/Passes.h"
#include "xfmr/io/checksum.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <tuple>

using namespace mlir;
using namespace mlir::xfmr;

namespace {
int64_t rowBytes(Value v) {
  auto t = cast<ShapedType>(v.getType());
  return t.getDimSize(1) * int64_t(t.getElementTypeBitWidth() / 8);
}
} // namespace

FailureOr<Manifest> mlir::xfmr::exportManifest(ModuleOp module, int64_t maxTokens) {
  auto fwd = module.lookupSymbol<func::FuncOp>("forward");
  if (!fwd)
    return module.emitError("no @forward function to export");
  if (fwd.getNumArguments() != 3)
    return fwd.emitError("@forward must take (tokens, pos, kv cache)");
  Value tokens = fwd.getArgument(0), pos = fwd.getArgument(1),
        cache = fwd.getArgument(2);
  auto kvType = dyn_cast<KVCacheType>(cache.getType());
  if (!kvType)
    return fwd.emitError("@forward's third argument must be a kv cache");

  Manifest m;
  std::string body;
  llvm::raw_string_ostream os(body);
  auto ret = cast<func::ReturnOp>(fwd.getBody().front().getTerminator());
  if (ret.getNumOperands() != 1)
    return fwd.emitError("@forward must return the logits");
  Value logits = ret.getOperand(0);

  // Last dispatch reading each value, for buffer reuse.
  SmallVector<DispatchOp> dispatches;
  fwd.walk([&](DispatchOp d) { dispatches.push_back(d); });
  llvm::DenseMap<Value, unsigned> lastUse;
  for (auto [i, d] : llvm::enumerate(dispatches))
    for (Value v : d.getOperands())
      lastUse[v] = i;

  llvm::DenseMap<Value, std::string> refs;
  llvm::MapVector<StringRef, std::pair<int, std::string>> kernels;
  std::vector<int64_t> slotBytes; // row bytes per activation slot
  std::vector<int> freeSlots;
  llvm::DenseMap<Value, int> slotOf;

  // The layout each weight is read in, from the kernels that read it.
  llvm::MapVector<Value, WeightLayout> layoutOfWeight;
  // Weights only gathered from (embedding tables): a decode step reads one
  // of their rows, every other weight whole.
  llvm::DenseMap<Value, bool> readWhole;
  for (DispatchOp d : dispatches) {
    auto kernel = module.lookupSymbol<func::FuncOp>(d.getKernel());
    if (!kernel)
      return d.emitOpError("kernel not found");
    Operation *op = &kernel.getBody().front().front();
    for (auto [i, v] : llvm::enumerate(d.getOperands())) {
      Operation *w = v.getDefiningOp();
      if (!isa_and_nonnull<WeightOp, ConcatOp>(w))
        continue;
      WeightLayout l = layoutOf(op, unsigned(i));
      readWhole[v] |= !isa<EmbeddingOp>(op);
      auto [it, inserted] = layoutOfWeight.insert({v, l});
      if (!inserted && !(it->second == l))
        return w->emitOpError() << "is read in two layouts ("
                               << it->second.describe() << ", " << l.describe()
                               << "); give each reader its own weight op";
    }
  }

  std::map<std::string, int> weightIds; // parts and layout -> weight id
  std::vector<bool> idReadWhole;
  for (auto &[value, layout] : layoutOfWeight) {
    WeightView view;
    SmallVector<WeightOp> parts;
    if (auto c = value.getDefiningOp<ConcatOp>())
      for (Value p : c.getParts())
        parts.push_back(p.getDefiningOp<WeightOp>());
    else
      parts.push_back(value.getDefiningOp<WeightOp>());
    std::string key;
    for (WeightOp w : parts) {
      WeightView::Part part;
      part.name = w.getName().str();
      if (part.name.empty() || part.name.find_first_of(" \t\n+") != std::string::npos)
        return w.emitOpError("weight names must be non-empty, without whitespace or '+'");
      part.columnOffset = w.getColumnOffsetAttr() ? w.getColumnOffsetAttr().getInt() : 0;
      part.transposed = w.getTransposed();
      part.cols = cast<RankedTensorType>(w.getType()).getShape().back();
      view.name += (view.name.empty() ? "" : "+") + part.name;
      key += part.name + "@" + std::to_string(part.columnOffset) +
             (part.transposed ? "T" : "") + ":" + std::to_string(part.cols) + ";";
      view.parts.push_back(std::move(part));
    }
    auto t = cast<RankedTensorType>(value.getType());
    view.shape.assign(t.getShape().begin(), t.getShape().end());
    view.layout = layout;
    if (layout.kind == WeightLayout::Dense) {
      view.layout.rows = t.getRank() == 2 ? t.getDimSize(0) : 1;
      view.layout.cols = t.getShape().back();
    }
    key += view.layout.describe() + ":" + std::to_string(view.layout.rows) + "x" +
           std::to_string(view.layout.cols);
    auto it = weightIds.find(key);
    if (it == weightIds.end()) {
      view.bytes = view.layout.bytes();
      view.offset = int64_t(llvm::alignTo(m.weightBytes, 64));
      m.weightBytes = view.offset + view.bytes;
      it = weightIds.emplace(key, int(m.weights.size())).first;
      m.weights.push_back(view);
      idReadWhole.push_back(false);
    }
    idReadWhole[size_t(it->second)] = idReadWhole[size_t(it->second)] || readWhole[value];
    refs[value] = "w" + std::to_string(it->second);
  }
  refs[tokens] = "tok";

  for (auto [i, d] : llvm::enumerate(dispatches)) {
    auto kernel = module.lookupSymbol<func::FuncOp>(d.getKernel());
    auto [kit, inserted] = kernels.insert(
        {kernel.getSymName(), {int(kernels.size()), std::string()}});
    if (inserted) {
      Attribute work = kernel->getAttr("xfmr.work");
      if (auto n = dyn_cast_or_null<IntegerAttr>(work))
        kit->second.second = std::to_string(n.getInt());
      else
        kit->second.second = "rows";
    }
    if (d.getNumResults() != 1)
      return d.emitOpError("dispatches must have one result");
    Value result = d.getResult(0);
    std::string outRef;
    if (result == logits) {
      outRef = "L";
    } else {
      int slot;
      if (!freeSlots.empty()) {
        slot = freeSlots.back();
        freeSlots.pop_back();
      } else {
        slot = int(slotBytes.size());
        slotBytes.push_back(0);
      }
      slotBytes[slot] = std::max(slotBytes[slot], rowBytes(result));
      slotOf[result] = slot;
      outRef = "a" + std::to_string(slot);
    }
    os << "dispatch " << kit->second.first;
    if (result == logits)
      os << " logits " << rowBytes(d.getOperand(0));
    else
      os << " -";
    for (Value v : d.getOperands()) {
      if (v == pos)
        continue;
      if (v == cache) {
        auto layer = d->getAttrOfType<IntegerAttr>("layer");
        if (!layer)
          return d.emitOpError("cache operand without a layer attribute");
        os << " c" << layer.getInt();
        continue;
      }
      auto ref = refs.find(v);
      if (ref == refs.end())
        return d.emitOpError("operand is not a weight, input or dispatch result");
      os << " " << ref->second;
    }
    os << " " << outRef << "\n";
    refs[result] = outRef;
    for (Value v : d.getOperands())
      if (slotOf.count(v) && lastUse[v] == i)
        freeSlots.push_back(slotOf[v]);
  }
  if (!refs.count(logits) || refs[logits] != "L")
    return fwd.emitError("@forward's result must be produced by a dispatch");

  std::string text;
  llvm::raw_string_ostream out(text);
  out << "xfmr-manifest 2\n";
  if (auto model = module->getAttrOfType<DictionaryAttr>("xfmr.model"))
    for (NamedAttribute a : model)
      if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
        out << "model " << a.getName().strref() << " " << i.getInt() << "\n";
  out << "max_tokens " << maxTokens << "\n";
  bool amx = false;
  for (auto &[name, info] : kernels)
    if (auto fn = module.lookupSymbol<func::FuncOp>(name))
      if (auto s = fn.getBody().front().front().getAttrOfType<ScheduleAttr>("schedule"))
        amx |= s.getAmx();
  if (amx)
    out << "requires amx\n";
  out << "vocab " << cast<ShapedType>(logits.getType()).getDimSize(1) << "\n";
  Type kvElem = kvType.getElementType();
  out << "kv " << kvType.getLayers() << " " << kvType.getKvHeads() << " "
      << kvType.getContextLength() << " " << kvType.getHeadDim() << " "
      << (kvElem.isF32() ? "f32" : kvElem.isF16() ? "f16" : "i8") << "\n";
  out << "weights_bytes " << m.weightBytes << "\n";
  m.kvContext = kvType.getContextLength();
  m.vocab = cast<ShapedType>(logits.getType()).getDimSize(1);
  int64_t decodeBytes = 0;
  for (auto [i, w] : llvm::enumerate(m.weights))
    decodeBytes += idReadWhole[i] ? w.bytes : w.bytes / std::max<int64_t>(1, w.shape[0]);
  out << "decode_bytes " << decodeBytes << "\n";
  for (auto [i, w] : llvm::enumerate(m.weights))
    out << "weight " << i << " " << w.offset << " " << w.bytes << " " << w.name
        << " " << w.layout.describe() << "\n";
  for (auto [i, b] : llvm::enumerate(slotBytes))
    out << "slot " << i << " " << b << "\n";
  for (auto &[name, info] : kernels)
    out << "kernel " << info.first << " " << name << "_entry " << info.second
        << "\n";
  out << body;
  out << "end\n";
  m.text = text;
  return m;
}

std::string mlir::xfmr::Manifest::finish(uint64_t weightsChecksum,
                                         uint64_t weightsFingerprint) const {
  const std::string end = "end\n";
  std::string body = text.substr(0, text.size() - end.size());
  return body + "weights_checksum " + ::xfmr::io::hashToHex(weightsChecksum) + "\n" +
         "weights_fingerprint " + ::xfmr::io::hashToHex(weightsFingerprint) + "\n" + end;
}

//===- XfmrDialect.cpp - dialect, types and attributes ---------------------===//
#include "xfmr/IR/XfmrDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::xfmr;

#include "xfmr/IR/XfmrOpsDialect.cpp.inc"
#include "xfmr/IR/XfmrEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "xfmr/IR/XfmrAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "xfmr/IR/XfmrOpsTypes.cpp.inc"

void XfmrDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "xfmr/IR/XfmrOps.cpp.inc"
      >();
  registerTypes();
  registerAttributes();
}

void XfmrDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "xfmr/IR/XfmrOpsTypes.cpp.inc"
      >();
}

void XfmrDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "xfmr/IR/XfmrAttrs.cpp.inc"
      >();
}

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t layers, int64_t kvHeads,
                                  int64_t contextLength, int64_t headDim,
                                  Type elementType) {
  if (layers <= 0 || kvHeads <= 0 || contextLength <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive";
  if (!elementType.isF32() && !elementType.isF16() &&
      !elementType.isSignlessInteger(8))
    return emitError() << "kv_cache element type must be f32, f16 or i8, got "
                       << elementType;
  return success();
}

Attribute ScheduleAttr::parse(AsmParser &p, Type) {
  int64_t vw = 0, tm = 0, tn = 0, unroll = 0, prefetch = -1, prefetchTo = 1;
  bool dot = false, amx = false;
  auto intField = [&](StringRef name, int64_t &v) -> ParseResult {
    return failure(p.parseKeyword(name) || p.parseEqual() || p.parseInteger(v));
  };
  if (p.parseLess() || intField("vector_width", vw) || p.parseComma() ||
      intField("tile_m", tm) || p.parseComma() || intField("tile_n", tn) ||
      p.parseComma() || intField("unroll", unroll))
    return {};
  while (succeeded(p.parseOptionalComma())) {
    StringRef key;
    if (p.parseKeyword(&key) || p.parseEqual())
      return {};
    if (key == "dot" || key == "amx") {
      StringRef v;
      if (p.parseKeyword(&v) || (v != "true" && v != "false")) {
        p.emitError(p.getCurrentLocation(), "expected true or false");
        return {};
      }
      (key == "dot" ? dot : amx) = v == "true";
    } else if (key == "prefetch") {
      if (p.parseInteger(prefetch))
        return {};
    } else if (key == "prefetch_to") {
      StringRef v;
      if (p.parseKeyword(&v) || (v != "l1" && v != "l2")) {
        p.emitError(p.getCurrentLocation(), "expected l1 or l2");
        return {};
      }
      prefetchTo = v == "l2" ? 2 : 1;
    } else {
      p.emitError(p.getCurrentLocation(), "unknown schedule knob '") << key << "'";
      return {};
    }
  }
  if (p.parseGreater())
    return {};
  return p.getChecked<ScheduleAttr>(p.getContext(), vw, tm, tn, unroll, dot, amx,
                                    prefetch, prefetchTo);
}

void ScheduleAttr::print(AsmPrinter &p) const {
  p << "<vector_width = " << getVectorWidth() << ", tile_m = " << getTileM()
    << ", tile_n = " << getTileN() << ", unroll = " << getUnroll();
  if (getDot())
    p << ", dot = true";
  if (getAmx())
    p << ", amx = true";
  if (getPrefetch() != -1)
    p << ", prefetch = " << getPrefetch();
  if (getPrefetchTo() != 1)
    p << ", prefetch_to = l" << getPrefetchTo();
  p << ">";
}

LogicalResult ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t vectorWidth, int64_t tileM,
                                   int64_t tileN, int64_t unroll, bool dot,
                                   bool amx, int64_t prefetch, int64_t prefetchTo) {
  if (amx && !dot)
    return emitError() << "amx needs dot";
  if (dot && vectorWidth != 16)
    return emitError() << "dot needs vector_width = 16, got " << vectorWidth;
  if (vectorWidth <= 0 || !llvm::isPowerOf2_64(vectorWidth) || vectorWidth > 64)
    return emitError() << "vector_width must be a power of two in [1, 64], got "
                       << vectorWidth;
  if (tileM <= 0 || tileM > 16)
    return emitError() << "tile_m must be in [1, 16], got " << tileM;
  if (tileN <= 0 || tileN % vectorWidth != 0)
    return emitError() << "tile_n (" << tileN
                       << ") must be a positive multiple of vector_width ("
                       << vectorWidth << ")";
  if (unroll <= 0 || unroll > 16)
    return emitError() << "unroll must be in [1, 16], got " << unroll;
  if (prefetch < -1 || prefetch > (1 << 20))
    return emitError() << "prefetch must be -1 (default), 0 (off) or a "
                          "distance up to 1048576, got "
                       << prefetch;
  if (prefetchTo != 1 && prefetchTo != 2)
    return emitError() << "prefetch_to must be l1 or l2, got level " << prefetchTo;
  return success();
}

Attribute QuantAttr::parse(AsmParser &p, Type) {
  int64_t bits = 0, group = 0, superBlock = 0;
  Type scale;
  bool zeroPoint = false;
  if (p.parseLess() || p.parseKeyword("bits") || p.parseEqual() || p.parseInteger(bits) ||
      p.parseComma() || p.parseKeyword("group") || p.parseEqual() || p.parseInteger(group) ||
      p.parseComma() || p.parseKeyword("scale") || p.parseEqual() || p.parseType(scale))
    return {};
  while (succeeded(p.parseOptionalComma())) {
    StringRef key;
    if (p.parseKeyword(&key) || p.parseEqual())
      return {};
    if (key == "zero_point") {
      StringRef v;
      if (p.parseKeyword(&v) || (v != "true" && v != "false")) {
        p.emitError(p.getCurrentLocation(), "expected true or false");
        return {};
      }
      zeroPoint = v == "true";
    } else if (key == "super") {
      if (p.parseInteger(superBlock))
        return {};
    } else {
      p.emitError(p.getCurrentLocation(), "unknown quant parameter '") << key << "'";
      return {};
    }
  }
  if (p.parseGreater())
    return {};
  return p.getChecked<QuantAttr>(p.getContext(), bits, group, scale, zeroPoint, superBlock);
}

void QuantAttr::print(AsmPrinter &p) const {
  p << "<bits = " << getBits() << ", group = " << getGroup() << ", scale = " << getScale();
  if (getZeroPoint())
    p << ", zero_point = true";
  if (getSuperBlock())
    p << ", super = " << getSuperBlock();
  p << ">";
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                int64_t bits, int64_t group, Type scale,
                                bool zeroPoint, int64_t superBlock) {
  if (!scale.isF32() && !scale.isF16())
    return emitError() << "quant scales must be f32 or f16, got " << scale;
  if (superBlock != 0 || bits == 6) {
    // Only the two K-quant layouts GGUF files hold (Q4_K, Q6_K).
    const bool q4K = bits == 4 && group == 32 && zeroPoint;
    const bool q6K = bits == 6 && group == 16 && !zeroPoint;
    if (superBlock != 256 || !scale.isF16() || !(q4K || q6K))
      return emitError() << "super-blocks are llama.cpp's K-quants: bits = 4, group = 32, "
                            "zero_point (Q4_K) or bits = 6, group = 16 (Q6_K), with "
                            "scale = f16 and super = 256; got bits = "
                         << bits << ", group = " << group << ", super = " << superBlock;
    return success();
  }
  if (bits == 8) {
    // Per output channel, or per 32 reduction elements as llama.cpp's Q8_0.
    if (group != 0 && group != 32 && group != 64 && group != 128)
      return emitError() << "8-bit weights need group 0 (per output channel), 32, 64 or "
                            "128, got group = " << group;
    if (zeroPoint)
      return emitError() << "8-bit weights are symmetric: no zero_point";
    return success();
  }
  if (bits == 4) {
    if (group != 32 && group != 64 && group != 128)
      return emitError() << "4-bit weights need group 32, 64 or 128, got "
                         << group;
    return success();
  }
  return emitError() << "quant bits must be 8, 4 or 6 (with super-blocks), got " << bits;
}

LogicalResult RopeScalingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                      StringRef kind, llvm::APFloat factorF,
                                      llvm::APFloat lowF, llvm::APFloat highF,
                                      int64_t originalContext) {
  double factor = factorF.convertToDouble(), lowFreqFactor = lowF.convertToDouble(),
         highFreqFactor = highF.convertToDouble();
  if (kind != "linear" && kind != "llama3")
    return emitError() << "rope scaling kind must be \"linear\" or \"llama3\", got \""
                       << kind << "\"";
  if (!(factor > 0))
    return emitError() << "rope scaling factor must be positive, got " << factor;
  if (kind == "llama3" && !(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor &&
                            originalContext > 0))
    return emitError() << "llama3 rope scaling needs 0 < low_freq_factor < "
                          "high_freq_factor and a positive original_context";
  return success();
}

SmallVector<double> mlir::xfmr::ropeInverseFrequencies(int64_t headDim, double theta,
                                                       RopeScalingAttr scaling) {
  SmallVector<double> f;
  for (int64_t i = 0; i < headDim / 2; ++i)
    f.push_back(std::pow(theta, -2.0 * double(i) / double(headDim)));
  if (!scaling)
    return f;
  double factor = scaling.getFactor().convertToDouble();
  if (scaling.getKind() == "linear") {
    for (double &v : f)
      v /= factor;
    return f;
  }
  // llama3 (transformers' _compute_llama3_parameters).
  double orig = double(scaling.getOriginalContext());
  double low = scaling.getLowFreqFactor().convertToDouble(),
         high = scaling.getHighFreqFactor().convertToDouble();
  double lowWavelen = orig / low, highWavelen = orig / high;
  for (double &v : f) {
    double wavelen = 2 * M_PI / v;
    if (wavelen > lowWavelen) {
      v /= factor;
    } else if (wavelen >= highWavelen) {
      double smooth = (orig / wavelen - low) / (high - low);
      v = (1 - smooth) * v / factor + smooth * v;
    }
  }
  return f;
}

//===- SearchSpace.cpp - candidate schedules and their cost model ----------===//
#include "xfmr/Autotune/SearchSpace.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

using namespace mlir::xfmr::tune;

std::string Candidate::schedule() const {
  std::string s = "#xfmr.schedule<vector_width = " + std::to_string(vectorWidth) +
                  ", tile_m = " + std::to_string(tileM) +
                  ", tile_n = " + std::to_string(tileN) +
                  ", unroll = " + std::to_string(unroll);
  if (dot)
    s += ", dot = true";
  if (amx)
    s += ", amx = true";
  if (prefetch != -1)
    s += ", prefetch = " + std::to_string(prefetch);
  if (prefetchL2)
    s += ", prefetch_to = l2";
  return s + ">";
}

bool Candidate::parse(const std::string &text, Candidate *out) {
  Candidate c;
  const char *p = text.c_str();
  auto lit = [&](const char *s) {
    size_t n = std::strlen(s);
    if (std::strncmp(p, s, n) != 0)
      return false;
    p += n;
    return true;
  };
  // strtoll, not sscanf: an integer too large for int64_t is refused, not
  // undefined. Leading spaces or a '+' fail the round trip below.
  auto num = [&](int64_t &v) {
    if (*p != '-' && !std::isdigit(static_cast<unsigned char>(*p)))
      return false;
    errno = 0;
    char *end = nullptr;
    long long x = std::strtoll(p, &end, 10);
    if (errno == ERANGE || end == p)
      return false;
    v = x, p = end;
    return true;
  };
  if (!lit("#xfmr.schedule<vector_width = ") || !num(c.vectorWidth) ||
      !lit(", tile_m = ") || !num(c.tileM) || !lit(", tile_n = ") || !num(c.tileN) ||
      !lit(", unroll = ") || !num(c.unroll))
    return false;
  c.dot = lit(", dot = true");
  c.amx = lit(", amx = true");
  if (lit(", prefetch = ") && !num(c.prefetch))
    return false;
  c.prefetchL2 = lit(", prefetch_to = l2");
  // Only the text schedule() prints: "007", "-0", "prefetch = -1" or a NUL
  // inside the string would read back as another text.
  if (!lit(">") || c.schedule() != text)
    return false;
  *out = c;
  return true;
}

bool Candidate::valid(std::string *why) const {
  auto bad = [&](const std::string &w) {
    *why = w;
    return false;
  };
  // Checked in ScheduleAttr::verify's order, with its bounds.
  if (amx && !dot)
    return bad("amx needs dot");
  if (dot && vectorWidth != 16)
    return bad("dot needs vector_width = 16, got " + std::to_string(vectorWidth));
  if (vectorWidth <= 0 || vectorWidth > 64 || (vectorWidth & (vectorWidth - 1)) != 0)
    return bad("vector_width must be a power of two in [1, 64], got " +
               std::to_string(vectorWidth));
  if (tileM <= 0 || tileM > 16)
    return bad("tile_m must be in [1, 16], got " + std::to_string(tileM));
  if (tileN <= 0 || tileN % vectorWidth != 0)
    return bad("tile_n (" + std::to_string(tileN) +
               ") must be a positive multiple of vector_width (" +
               std::to_string(vectorWidth) + ")");
  if (unroll <= 0 || unroll > 16)
    return bad("unroll must be in [1, 16], got " + std::to_string(unroll));
  if (prefetch < -1 || prefetch > (1 << 20))
    return bad("prefetch must be -1 (default), 0 (off) or a distance up to 1048576, got " +
               std::to_string(prefetch));
  return true;
}

std::vector<Candidate> mlir::xfmr::tune::searchSpace(const KernelShape &k,
                                                     const Candidate &base) {
  std::vector<Candidate> out;
  // int4 and gated blocks hold two halves of whole vectors.
  const int64_t unit = (k.int4 || k.gated) && !k.lmHead ? 2 * base.vectorWidth
                                                        : base.vectorWidth;
  std::vector<int64_t> tileNs;
  for (int64_t tn = unit; tn <= 256; tn += unit)
    if (k.lmHead ? (tn & (tn - 1)) == 0 : k.N % tn == 0)
      tileNs.push_back(tn);
  if (std::find(tileNs.begin(), tileNs.end(), base.tileN) == tileNs.end())
    tileNs.push_back(base.tileN);
  if (k.lmHead) {
    for (int64_t tn : tileNs)
      for (int64_t pf : {0, 4, 8, 16}) {
        Candidate c = base;
        c.tileN = tn;
        c.prefetch = pf == 8 ? -1 : pf; // 8 rows is the kernel's default
        out.push_back(c);
      }
    return out;
  }
  std::vector<int64_t> unrolls = k.floatWeights ? std::vector<int64_t>{1, 2}
                                                : std::vector<int64_t>{1};
  std::vector<bool> amx = k.amxCapable ? std::vector<bool>{false, true}
                                       : std::vector<bool>{false};
  for (int64_t tn : tileNs)
    for (int64_t tm : {2, 4, 6, 8})
      for (int64_t u : unrolls)
        for (int64_t pf : {0, 1024, 2048, 4096, 8192})
          for (bool a : amx) {
            if (a && tn % 16 != 0)
              continue;
            Candidate c = base;
            c.tileN = tn, c.tileM = tm, c.unroll = u, c.amx = a;
            c.prefetch = pf == 2048 ? -1 : pf; // 2048 bytes: the default
            out.push_back(c);
          }
  return out;
}

double mlir::xfmr::tune::estimateCost(const KernelShape &k, const Candidate &c) {
  const double T = std::max(1, k.threads);
  const double units = std::ceil(double(k.N) / double(c.tileN));
  // Decode streams the weights: their bytes over all threads, stretched by
  // the thread that gets the most units, plus a small cost per unit.
  double imbalance = std::ceil(units / T) / (units / T);
  double decode = k.weightBytes / 1e4 * imbalance + units * 0.05;
  // Prefetching ahead keeps more lines in flight: none costs the most,
  // too far (past the block) helps little.
  int64_t pf = c.prefetch < 0 ? (k.lmHead ? 8 : 2048) : c.prefetch;
  decode *= pf == 0 ? 1.25 : (k.lmHead ? (pf < 8 ? 1.08 : 1.0) : (pf < 2048 ? 1.05 : 1.0));
  if (k.lmHead)
    return decode;
  // Prefill (128 rows): FMAs per cycle from the register tile: loads per
  // multiply-add fall as the tile grows; capped by registers (24
  // accumulators, 8 with VNNI's paired ones).
  const double vw = double(c.vectorWidth);
  const double cap = k.floatWeights ? 24 : 8;
  // (VNNI tiles: the activation-block readout, not the loads, bounds them,
  // so only their row count is modelled: measured best tile_n varied.)
  double nv = k.floatWeights
                  ? std::min(double(c.tileN) / vw, std::max(1.0, std::floor(cap / c.tileM)))
                  : 1.0;
  double rows = std::min<double>(c.tileM, cap);
  double loadsPerFma = (nv + rows) / (nv * rows);
  double eff = 1.0 / (1.0 + 1.5 * loadsPerFma);
  if (c.unroll > 1)
    eff *= 1.02;
  if (c.amx)
    eff *= 1.05;
  double flops = 2.0 * 128 * double(k.K) * double(k.N);
  double prefill = flops / (1e5 * eff) * imbalance;
  return decode + prefill / 64.0;
}

std::vector<Candidate> mlir::xfmr::tune::neighbours(const KernelShape &k,
                                                    const std::vector<Candidate> &space,
                                                    const Candidate &c) {
  const int64_t defaultPrefetch = k.lmHead ? 8 : 2048;
  // Per knob, the sorted distinct values it takes in the space.
  std::map<int, std::vector<int64_t>> values;
  auto knob = [&](const Candidate &x, int i) -> int64_t {
    switch (i) {
    case 0: return x.tileN;
    case 1: return x.tileM;
    case 2: return x.unroll;
    case 3: return x.prefetch < 0 ? defaultPrefetch : x.prefetch;
    default: return x.amx;
    }
  };
  for (const Candidate &x : space)
    for (int i = 0; i < 5; ++i)
      values[i].push_back(knob(x, i));
  for (auto &[i, v] : values) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  std::vector<Candidate> out;
  for (const Candidate &x : space) {
    int differing = 0, which = -1;
    for (int i = 0; i < 5; ++i)
      if (knob(x, i) != knob(c, i))
        ++differing, which = i;
    if (differing != 1)
      continue;
    const auto &v = values[which];
    auto a = std::find(v.begin(), v.end(), knob(c, which));
    auto b = std::find(v.begin(), v.end(), knob(x, which));
    if (std::abs(a - b) == 1)
      out.push_back(x);
  }
  return out;
}

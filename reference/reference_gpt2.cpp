#include "reference_gpt2.h"

#include <cmath>

#include "xfmr/import/safetensors.h"

using namespace xfmr;
using namespace xfmr::reference;

namespace {
std::vector<double> toDouble(const std::vector<float> &f) {
  return std::vector<double>(f.begin(), f.end());
}
} // namespace

ReferenceGPT2::ReferenceGPT2(const io::GPT2Model &files,
                             const ReferenceOptions &options)
    : c_(files.config()), dropped_(size_t(files.config().nLayer), false),
      kvPrecision_(options.kvPrecision), jitter_(options.activationJitter) {
  for (int64_t l : options.dropped)
    dropped_.at(size_t(l)) = true;
  auto L = [&](const std::string &n) { return toDouble(files.load(n)); };
  // A matrix as the compiled model stores it: quantize-dequantized unless
  // its consumer or a part of its name is kept.
  auto kept = [&](const std::string &consumer, const std::string &name) {
    for (const std::string &k : options.keep)
      if (k == consumer || files.fileName(name).find(k) != std::string::npos)
        return true;
    return false;
  };
  auto M = [&](const std::string &name, const std::string &consumer,
               bool reductionIsRows) {
    std::vector<float> w = files.load(name);
    const auto *t = files.checkpoint().find(files.fileName(name))->info;
    int64_t reduction = reductionIsRows ? t->shape[0] : t->shape[1];
    // A group that does not divide the reduction is a compile error; the
    // reference keeps such a matrix f32 rather than fail.
    bool fits = options.scheme.format != io::WeightFormat::Int4 ||
                reduction % options.scheme.group == 0;
    if (!kept(consumer, name) && fits)
      io::fakeQuantize(w, t->shape[0], t->shape[1], reductionIsRows,
                       options.scheme);
    return toDouble(w);
  };
  wte_ = M("wte.weight", "embedding", false);
  wteHead_ = M("wte.weight", "lm_head", false);
  const bool int8Acts = options.int8Activations &&
                        options.scheme.format != io::WeightFormat::F32 &&
                        c_.nEmbd % 32 == 0;
  bf16Acts_ = options.scheme.format == io::WeightFormat::BF16;
  // The VNNI LM head exists for int8 rows and int4 rows in groups of 32.
  const bool headDot =
      options.scheme.format == io::WeightFormat::Int8 ||
      (options.scheme.format == io::WeightFormat::Int4 && options.scheme.group == 32);
  quantHead_ = int8Acts && headDot && !kept("lm_head", "wte.weight");
  wpe_ = L("wpe.weight");
  lnfg_ = L("ln_f.weight");
  lnfb_ = L("ln_f.bias");
  for (int64_t i = 0; i < c_.nLayer; ++i) {
    std::string h = "h." + std::to_string(i) + ".";
    layers_.push_back({L(h + "ln_1.weight"), L(h + "ln_1.bias"),
                       M(h + "attn.c_attn.weight", "linear", true),
                       L(h + "attn.c_attn.bias"),
                       M(h + "attn.c_proj.weight", "linear", true),
                       L(h + "attn.c_proj.bias"), L(h + "ln_2.weight"),
                       L(h + "ln_2.bias"), M(h + "mlp.c_fc.weight", "linear", true),
                       L(h + "mlp.c_fc.bias"),
                       M(h + "mlp.c_proj.weight", "linear", true),
                       L(h + "mlp.c_proj.bias")});
    if (int8Acts) {
      Layer &ly = layers_.back();
      auto q = [&](const std::string &name) {
        return !kept("linear", name) && c_.nEmbd % 32 == 0;
      };
      ly.quantAttn = q(h + "attn.c_attn.weight");
      ly.quantProj = q(h + "attn.c_proj.weight");
      ly.quantFc = q(h + "mlp.c_fc.weight");
      ly.quantFc2 = q(h + "mlp.c_proj.weight");
    }
  }
  kCache_.assign(size_t(c_.nLayer), {});
  vCache_.assign(size_t(c_.nLayer), {});
}

ReferenceGPT2::Vec ReferenceGPT2::layerNorm(const Vec &x, const Vec &g,
                                            const Vec &b) const {
  double mean = 0, var = 0;
  for (double v : x)
    mean += v;
  mean /= double(x.size());
  for (double v : x)
    var += (v - mean) * (v - mean);
  var /= double(x.size());
  Vec y(x.size(), 0.0);
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = (x[i] - mean) / std::sqrt(var + c_.epsilon) * g[i] + b[i];
  return y;
}

ReferenceGPT2::Vec ReferenceGPT2::linear(const Vec &xin, const Vec &w,
                                         const Vec &b, int64_t out,
                                         bool quantizeInput) {
  Vec x = xin;
  if (quantizeInput)
    roundActivations(x);
  Vec y(b.begin(), b.end());
  for (size_t k = 0; k < x.size(); ++k)
    for (int64_t n = 0; n < out; ++n)
      y[size_t(n)] += x[k] * w[k * size_t(out) + size_t(n)];
  return y;
}

void ReferenceGPT2::roundActivations(Vec &x) {
  for (double &v : x) { // splitmix64: a fixed, platform-independent stream
    if (jitter_ == 0)
      break;
    uint64_t z = (jitterState_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = double(z >> 11) * 0x1p-53; // [0, 1)
    v *= 1 + jitter_ * (2 * u - 1);
  }
  if (bf16Acts_) { // AVX512-BF16 kernels: activations rounded to bf16
    for (double &v : x)
      v = double(io::bf16ToFloat(io::floatToBF16(float(v))));
    return;
  }
  std::vector<float> f(x.begin(), x.end()); // the kernels see f32
  for (size_t b0 = 0; b0 + 32 <= f.size(); b0 += 32)
    io::roundInt8(f.data() + b0, 32);
  std::copy(f.begin(), f.end(), x.begin());
}

void ReferenceGPT2::storeRounded(double *x, int64_t n) const {
  if (kvPrecision_ == "f16") {
    for (int64_t i = 0; i < n; ++i)
      x[i] = io::halfToFloat(io::floatToHalf(float(x[i])));
  } else if (kvPrecision_ == "int8") {
    std::vector<float> f(x, x + n); // the kernel sees f32
    io::roundInt8(f.data(), n);
    std::copy(f.begin(), f.end(), x);
  }
}

std::vector<double> ReferenceGPT2::step(int32_t token) {
  const int64_t E = c_.nEmbd, H = c_.nHead, D = E / H;
  Vec x(static_cast<size_t>(E), 0.0);
  for (int64_t i = 0; i < E; ++i)
    x[size_t(i)] = wte_[size_t(token * E + i)] + wpe_[size_t(pos_ * E + i)];
  for (int64_t l = 0; l < c_.nLayer; ++l) {
    if (dropped_[size_t(l)])
      continue;
    Layer &ly = layers_[size_t(l)];
    Vec qkv = linear(layerNorm(x, ly.ln1g, ly.ln1b), ly.attnW, ly.attnB, 3 * E,
                     ly.quantAttn);
    Vec &kc = kCache_[size_t(l)], &vc = vCache_[size_t(l)];
    for (int64_t h = 0; h < H; ++h) {
      storeRounded(&qkv[size_t(E + h * D)], D);
      storeRounded(&qkv[size_t(2 * E + h * D)], D);
    }
    kc.insert(kc.end(), qkv.begin() + E, qkv.begin() + 2 * E);
    vc.insert(vc.end(), qkv.begin() + 2 * E, qkv.end());
    int64_t T = pos_ + 1;
    Vec attn(static_cast<size_t>(E), 0.0);
    for (int64_t h = 0; h < H; ++h) {
      Vec scores(static_cast<size_t>(T), 0.0);
      double maxS = -1e300;
      for (int64_t t = 0; t < T; ++t) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d)
          s += qkv[size_t(h * D + d)] * kc[size_t(t * E + h * D + d)];
        scores[size_t(t)] = s / std::sqrt(double(D));
        maxS = std::max(maxS, scores[size_t(t)]);
      }
      double total = 0;
      for (double &s : scores)
        total += (s = std::exp(s - maxS));
      for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; ++d)
          attn[size_t(h * D + d)] +=
              scores[size_t(t)] / total * vc[size_t(t * E + h * D + d)];
    }
    Vec proj = linear(attn, ly.projW, ly.projB, E, ly.quantProj);
    for (int64_t i = 0; i < E; ++i)
      x[size_t(i)] += proj[size_t(i)];
    Vec hmid = linear(layerNorm(x, ly.ln2g, ly.ln2b), ly.fcW, ly.fcB, 4 * E,
                      ly.quantFc);
    for (double &v : hmid)
      v = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    Vec out = linear(hmid, ly.fc2W, ly.fc2B, E, ly.quantFc2);
    for (int64_t i = 0; i < E; ++i)
      x[size_t(i)] += out[size_t(i)];
  }
  Vec xf = layerNorm(x, lnfg_, lnfb_);
  if (quantHead_) // the LM head's VNNI kernel rounds its input too
    roundActivations(xf);
  std::vector<double> logits(static_cast<size_t>(c_.vocab), 0.0);
  for (int64_t v = 0; v < c_.vocab; ++v) {
    double s = 0;
    for (int64_t i = 0; i < E; ++i)
      s += xf[size_t(i)] * wteHead_[size_t(v * E + i)];
    logits[size_t(v)] = s;
  }
  ++pos_;
  return logits;
}

std::vector<std::vector<double>>
ReferenceGPT2::forward(const std::vector<int32_t> &tokens) {
  std::vector<std::vector<double>> out;
  for (int32_t t : tokens)
    out.push_back(step(t));
  return out;
}

// xfmr_sample: greedy, or temperature with top-k and top-p, from a seed.
#include "xfmr/runtime.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

struct xfmr_sampler {
  xfmr_sampler_params p;
  uint64_t state;
  std::vector<int32_t> order;
  std::vector<float> probs;

  // splitmix64: tiny, seedable, and the same on every platform.
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
};

extern "C" xfmr_sampler *xfmr_sampler_create(const xfmr_sampler_params *p) {
  auto *s = new xfmr_sampler{};
  s->p = p ? *p : xfmr_sampler_params{0.f, 0, 1.f, 0};
  s->state = s->p.seed;
  return s;
}

extern "C" void xfmr_sampler_free(xfmr_sampler *s) { delete s; }

extern "C" int32_t xfmr_sample(xfmr_sampler *s, const float *logits, int vocab) {
  if (vocab <= 0)
    return -1;
  if (s->p.temperature <= 0.f)
    return int32_t(std::max_element(logits, logits + vocab) - logits);

  // Candidates sorted by logit, cut to top-k.
  int k = (s->p.top_k > 0 && s->p.top_k < vocab) ? s->p.top_k : vocab;
  s->order.resize(vocab);
  std::iota(s->order.begin(), s->order.end(), 0);
  auto byLogit = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(s->order.begin(), s->order.begin() + k, s->order.end(),
                    byLogit);
  s->order.resize(k);

  // Softmax at the temperature, in double for a stable cumulative sum.
  double maxLogit = logits[s->order[0]], total = 0;
  s->probs.resize(k);
  for (int i = 0; i < k; ++i) {
    s->probs[i] = float(std::exp((logits[s->order[i]] - maxLogit) / s->p.temperature));
    total += s->probs[i];
  }
  // Nucleus: the smallest prefix whose mass reaches top_p.
  int keep = k;
  if (s->p.top_p > 0.f && s->p.top_p < 1.f) {
    double cum = 0;
    for (int i = 0; i < k; ++i) {
      cum += s->probs[i] / total;
      if (cum >= s->p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double mass = 0;
  for (int i = 0; i < keep; ++i)
    mass += s->probs[i];
  double r = s->uniform() * mass;
  for (int i = 0; i < keep; ++i) {
    r -= s->probs[i];
    if (r < 0)
      return s->order[i];
  }
  return s->order[keep - 1];
}

#include "xfmr/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace {
struct Sampler {
  xfmr_sampler *s;
  explicit Sampler(xfmr_sampler_params p) : s(xfmr_sampler_create(&p)) {}
  ~Sampler() { xfmr_sampler_free(s); }
};

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 2.9f};

TEST(Sampler, GreedyIsArgMax) {
  Sampler g({0.f, 0, 1.f, 7});
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(xfmr_sample(g.s, kLogits.data(), 5), 1);
}

TEST(Sampler, SameSeedSameSequence) {
  Sampler a({1.f, 0, 1.f, 42}), b({1.f, 0, 1.f, 42}), c({1.f, 0, 1.f, 43});
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 64; ++i) {
    sa.push_back(xfmr_sample(a.s, kLogits.data(), 5));
    sb.push_back(xfmr_sample(b.s, kLogits.data(), 5));
    sc.push_back(xfmr_sample(c.s, kLogits.data(), 5));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Sampler, TopKKeepsOnlyTheKBest) {
  Sampler s({5.f, 2, 1.f, 1}); // hot: without the cut all five would appear
  for (int i = 0; i < 500; ++i) {
    int32_t t = xfmr_sample(s.s, kLogits.data(), 5);
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(Sampler, TopPKeepsTheNucleus) {
  // Probabilities at T=1: 1 -> .40, 4 -> .36, 2 -> .15 ...: p = 0.7 keeps {1, 4}.
  Sampler s({1.f, 0, 0.7f, 3});
  for (int i = 0; i < 500; ++i) {
    int32_t t = xfmr_sample(s.s, kLogits.data(), 5);
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(Sampler, FrequenciesFollowTheSoftmax) {
  Sampler s({1.f, 0, 1.f, 9});
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i)
    ++counts[xfmr_sample(s.s, kLogits.data(), 5)];
  double z = 0;
  for (float l : kLogits)
    z += std::exp(double(l));
  for (int t = 0; t < 5; ++t) {
    double expected = std::exp(double(kLogits[size_t(t)])) / z;
    EXPECT_NEAR(double(counts[t]) / n, expected, 0.015) << "token " << t;
  }
}
} // namespace

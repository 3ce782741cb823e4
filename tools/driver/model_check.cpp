// compareCompiled: two compiled models timed against each other in one run,
// through the runtime's C API exactly as `xfmr bench` runs them. The tuner
// keeps a kernel's tuned schedule only when the whole model agrees.
#include "model_stages.h"
#include "xfmr/runtime.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Loaded {
  xfmr_model *model = nullptr;
  xfmr_session *session = nullptr;
  std::vector<double> decode, prefill, objective;
  ~Loaded() {
    if (session)
      xfmr_session_free(session);
    if (model)
      xfmr_model_close(model);
  }
};

} // namespace

int xfmr::driver::compareCompiled(const std::string &a, const std::string &b, int threads,
                                  int rounds, ModelTiming *ta, ModelTiming *tb,
                                  std::string *error) {
  Loaded m[2];
  const std::string *paths[2] = {&a, &b};
  int kPrompt = 128, kSteps = 32; // fewer on models with a short context
  for (int i = 0; i < 2; ++i) {
    m[i].model = xfmr_model_open(paths[i]->c_str(), threads);
    if (m[i].model) {
      int ctx = xfmr_model_context_length(m[i].model);
      kPrompt = std::min(kPrompt, ctx / 2);
      kSteps = std::max(1, std::min(kSteps, ctx - kPrompt - 1));
      m[i].session = xfmr_session_create(m[i].model, kPrompt + kSteps + 1);
    }
    if (!m[i].session) {
      *error = *paths[i] + ": " + xfmr_last_error();
      return 1;
    }
  }
  int vocab = xfmr_model_vocab_size(m[0].model);
  std::vector<int32_t> prompt(kPrompt);
  uint64_t x = 7;
  for (int32_t &t : prompt) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((x >> 33) % uint64_t(vocab));
  }
  using Clock = std::chrono::steady_clock;
  auto once = [&](Loaded &l, bool keep) {
    xfmr_session_reset(l.session);
    auto t0 = Clock::now();
    if (xfmr_prefill(l.session, prompt.data(), kPrompt, 0) != 0)
      return false;
    double pre = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::vector<double> steps;
    for (int s = 0; s < kSteps; ++s) {
      auto t1 = Clock::now();
      if (xfmr_decode(l.session, prompt[size_t(s)]) != 0)
        return false;
      steps.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
    }
    if (keep) {
      l.prefill.push_back(pre);
      l.decode.push_back(median(steps));
      l.objective.push_back(l.decode.back() + pre / 64);
    }
    return true;
  };
  for (int r = -1; r < rounds; ++r) // r = -1: warm-up
    for (int k = 0; k < 2; ++k) {
      Loaded &l = m[(r + k) % 2 == 0 ? 0 : 1];
      if (!once(l, r >= 0)) {
        *error = std::string("timing a tuned model: ") + xfmr_last_error();
        return 1;
      }
    }
  ta->decodeMs = median(m[0].decode), ta->prefillMs = median(m[0].prefill);
  tb->decodeMs = median(m[1].decode), tb->prefillMs = median(m[1].prefill);
  ta->roundObjectives = m[0].objective, tb->roundObjectives = m[1].objective;
  return 0;
}

int xfmr::driver::roundsFaster(const ModelTiming &a, const ModelTiming &b) {
  int n = 0;
  for (size_t i = 0; i < std::min(a.roundObjectives.size(), b.roundObjectives.size()); ++i)
    n += a.roundObjectives[i] < b.roundObjectives[i];
  return n;
}

// compareCompiled: two compiled models timed against each other in one run,
// through the runtime's C API exactly as `xfmr bench` runs them. The tuner
// keeps a kernel's tuned schedule only when the whole model agrees.
//
// One model is loaded at a time, as a deployed process holds one: two
// resident models share the last-level cache, and an int8 GPT-2 (125 MB)
// times differently beside another than alone (the tuned int8 model won
// 1.035-1.087x opened alone per round, 0.999x with both resident;
// docs/tuner.md).
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
  bool open(const std::string &dir, int threads, int positions) {
    model = xfmr_model_open(dir.c_str(), threads);
    if (model)
      session = xfmr_session_create(model, positions > 0 ? positions : 0);
    return session != nullptr;
  }
  ~Loaded() {
    if (session)
      xfmr_session_free(session);
    if (model)
      xfmr_model_close(model);
  }
};

struct Runs {
  std::vector<double> decode, prefill, objective;
};
} // namespace

int xfmr::driver::compareCompiled(const std::string &a, const std::string &b, int threads,
                                  int rounds, ModelTiming *ta, ModelTiming *tb,
                                  std::string *error, int promptLen, int steps) {
  const std::string *paths[2] = {&a, &b};
  // The prompt, 4 untimed steps (the pool's workers spin up), the timed
  // ones; fewer on models with a short context.
  int kPrompt = std::max(1, promptLen), kWarm = 4, kSteps = std::max(1, steps), vocab = 0;
  for (int i = 0; i < 2; ++i) { // both must open before anything is timed
    Loaded l;
    if (!l.open(*paths[i], threads, 0)) {
      *error = *paths[i] + ": " + xfmr_last_error();
      return 1;
    }
    int ctx = xfmr_model_context_length(l.model);
    kPrompt = std::min(kPrompt, ctx / 2);
    int room = ctx - kPrompt;
    kWarm = std::min(kWarm, room / 4);
    kSteps = std::max(1, std::min(kSteps, room - kWarm - 1));
    vocab = xfmr_model_vocab_size(l.model);
  }
  std::vector<int32_t> prompt(size_t(kPrompt + kWarm + kSteps));
  uint64_t x = 7;
  for (int32_t &t : prompt) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((x >> 33) % uint64_t(vocab));
  }
  using Clock = std::chrono::steady_clock;
  Runs runs[2];
  // One round of one model: opened, the timed prompt, the steps, closed.
  auto once = [&](int i, bool keep) {
    Loaded l;
    if (!l.open(*paths[i], threads, kPrompt + kWarm + kSteps))
      return false;
    auto t0 = Clock::now();
    if (xfmr_prefill(l.session, prompt.data(), kPrompt, 0) != 0)
      return false;
    double pre = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::vector<double> steps;
    for (int s = 0; s < kWarm + kSteps; ++s) {
      auto t1 = Clock::now();
      if (xfmr_decode(l.session, prompt[size_t(kPrompt + s)]) != 0)
        return false;
      if (s >= kWarm)
        steps.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
    }
    if (keep) {
      Runs &r = runs[i];
      r.prefill.push_back(pre);
      r.decode.push_back(median(steps));
      r.objective.push_back(r.decode.back() + pre / 64);
    }
    return true;
  };
  for (int r = -1; r < rounds; ++r) // r = -1: warm-up
    for (int k = 0; k < 2; ++k) {
      int i = (r + k) % 2 == 0 ? 0 : 1;
      if (!once(i, r >= 0)) {
        *error = *paths[i] + ": timing it: " + xfmr_last_error();
        return 1;
      }
    }
  ta->decodeMs = median(runs[0].decode), ta->prefillMs = median(runs[0].prefill);
  tb->decodeMs = median(runs[1].decode), tb->prefillMs = median(runs[1].prefill);
  ta->roundObjectives = runs[0].objective, tb->roundObjectives = runs[1].objective;
  return 0;
}

int xfmr::driver::roundsFaster(const ModelTiming &a, const ModelTiming &b) {
  int n = 0;
  for (size_t i = 0; i < std::min(a.roundObjectives.size(), b.roundObjectives.size()); ++i)
    n += a.roundObjectives[i] < b.roundObjectives[i];
  return n;
}

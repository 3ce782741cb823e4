//===- Search.cpp - the schedule search of one kernel ----------------------===//
#include "xfmr/Autotune/Search.h"

#include <algorithm>
#include <cmath>
#include <set>

using namespace mlir::xfmr::tune;

namespace {
/// `cs` in the cost model's order; ties keep their order.
std::vector<Candidate> byCost(const KernelShape &shape, const std::vector<Candidate> &cs) {
  std::vector<std::pair<double, size_t>> keyed;
  for (size_t i = 0; i < cs.size(); ++i)
    keyed.push_back({estimateCost(shape, cs[i]), i});
  std::sort(keyed.begin(), keyed.end());
  std::vector<Candidate> out;
  for (auto &[cost, i] : keyed)
    out.push_back(cs[i]);
  return out;
}
} // namespace

int mlir::xfmr::tune::bestTrial(const std::vector<Trial> &trials) {
  int best = -1;
  const double prefillCap = !trials.empty() && trials[0].result.ok
                                ? trials[0].result.prefillUs * kMaxPrefillLoss
                                : INFINITY;
  for (size_t i = 0; i < trials.size(); ++i)
    if (trials[i].result.ok && (i == 0 || trials[i].result.prefillUs <= prefillCap) &&
        (best < 0 || trials[i].result.objectiveUs() < trials[size_t(best)].result.objectiveUs()))
      best = int(i);
  return best;
}

std::vector<Trial> mlir::xfmr::tune::search(
    const KernelShape &shape, const Candidate &base,
    const std::function<Measurement(const Candidate &)> &measure,
    const SearchBudget &budget,
    const std::function<void(const std::vector<Trial> &)> &progress) {
  std::vector<Candidate> space = searchSpace(shape, base);
  if (std::find(space.begin(), space.end(), base) == space.end())
    space.push_back(base);
  std::vector<Candidate> ranked = byCost(shape, space);
  // The last kFinalists measurements re-measure the best candidates (their
  // two measurements averaged): one lucky measurement should not decide.
  constexpr int kFinalists = 3;
  const int limit = budget.exhaustive
                        ? int(space.size()) + 2 + kFinalists // + repeats, finalists
                        : std::min<int>(budget.trials, int(space.size()));
  const int reserve = limit >= 12 ? kFinalists : 0;
  std::vector<Trial> trials;
  std::set<std::string> seen;
  auto run = [&](const Candidate &c) {
    seen.insert(c.schedule());
    Trial t{c, measure(c), 0};
    trials.push_back(t);
    int b = bestTrial(trials);
    trials.back().bestUs = b < 0 ? 0 : trials[size_t(b)].result.objectiveUs();
    if (progress)
      progress(trials);
  };
  int repeats = 0; // extra measurements of the default
  auto timeLeft = [&] {
    return int(trials.size()) + repeats + reserve < limit &&
           std::chrono::steady_clock::now() < budget.deadline;
  };
  auto nextRanked = [&]() -> const Candidate * {
    for (const Candidate &c : ranked)
      if (!seen.count(c.schedule()))
        return &c;
    return nullptr;
  };

  // The baseline every candidate must beat: the default, measured three
  // times (its median; the two repeats count against the budget), so one
  // lucky or unlucky measurement does not set the bar.
  {
    std::vector<Measurement> ms;
    for (int i = 0; i < 3 && (i == 0 || int(trials.size()) + 2 < limit); ++i)
      ms.push_back(measure(base));
    std::sort(ms.begin(), ms.end(), [](const Measurement &a, const Measurement &b) {
      return a.ok != b.ok ? a.ok : a.objectiveUs() < b.objectiveUs();
    });
    repeats = int(ms.size()) - 1;
    seen.insert(base.schedule());
    trials.push_back(Trial{base, ms[ms.size() / 2], 0});
    trials.back().bestUs = trials.back().result.ok ? trials.back().result.objectiveUs() : 0;
    if (progress)
      progress(trials);
  }
  // Indices of the measured-ok trials from `first` on, fastest first.
  auto fastestFirst = [&](size_t first) {
    std::vector<int> order;
    for (size_t i = first; i < trials.size(); ++i)
      if (trials[i].result.ok)
        order.push_back(int(i));
    std::sort(order.begin(), order.end(), [&](int a, int b) {
      double x = trials[size_t(a)].result.objectiveUs(), y = trials[size_t(b)].result.objectiveUs();
      return x != y ? x < y : a < b;
    });
    return order;
  };
  auto refineFinalists = [&] {
    if (reserve == 0)
      return trials;
    std::vector<int> order = fastestFirst(1);
    for (size_t f = 0; f < order.size() && f < size_t(reserve); ++f) {
      if (std::chrono::steady_clock::now() >= budget.deadline)
        break;
      Measurement &r = trials[size_t(order[f])].result;
      Measurement again = measure(trials[size_t(order[f])].candidate);
      ++repeats;
      r.ok = r.ok && again.ok;
      r.decodeUs = (r.decodeUs + again.decodeUs) / 2;
      r.prefillUs = (r.prefillUs + again.prefillUs) / 2;
    }
    int b = bestTrial(trials);
    if (b >= 0)
      trials.back().bestUs = trials[size_t(b)].result.objectiveUs();
    if (progress)
      progress(trials);
    return trials;
  };
  if (budget.exhaustive) {
    while (timeLeft())
      if (const Candidate *c = nextRanked())
        run(*c);
      else
        break;
    return refineFinalists();
  }
  // Seed with the cost model's favourites, first its favourite for each
  // column block width (the knob that most decides the thread split and
  // the weight layout), so a cost model wrong about one width does not
  // keep the search away from it.
  const int seeds = std::max(2, limit / 3);
  std::set<int64_t> widths;
  for (const Candidate &c : ranked)
    if (int(trials.size()) + repeats < 1 + seeds && timeLeft() &&
        !seen.count(c.schedule()) && widths.insert(c.tileN).second)
      run(c);
  while (timeLeft() && int(trials.size()) + repeats < 1 + seeds)
    if (const Candidate *c = nextRanked())
      run(*c);
    else
      break;
  // Evolution around the best measured so far.
  while (timeLeft()) {
    std::vector<int> order = fastestFirst(0);
    const Candidate *pick = nullptr;
    std::vector<Candidate> near;
    for (int i : order) {
      near = neighbours(shape, space, trials[size_t(i)].candidate);
      near.erase(std::remove_if(near.begin(), near.end(),
                                [&](const Candidate &c) { return seen.count(c.schedule()); }),
                 near.end());
      if (!near.empty())
        break;
    }
    if (!near.empty()) {
      near = byCost(shape, near);
      pick = &near.front();
    } else {
      pick = nextRanked();
    }
    if (!pick)
      break;
    run(*pick);
  }
  return refineFinalists();
}

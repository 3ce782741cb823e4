//===- TuningPlot.cpp - the tuning curves as SVG ---------------------------===//
// A small writer of its own: one chart, best objective relative to the
// default schedule (1.0 = default) against the trial number, a polyline
// and a legend entry per tuned kernel.
#include "xfmr/io/files.h"
#include "xfmr/Autotune/Tuner.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace mlir::xfmr::tune;

namespace {
std::string escape(const std::string &s) {
  std::string o;
  for (char c : s)
    o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}
} // namespace

bool mlir::xfmr::tune::writeTuningPlot(const std::vector<KernelOutcome> &outcomes,
                                       const std::string &path, std::string *error) {
  // Curves: per kernel, best-so-far over the first (default) trial.
  std::vector<std::pair<std::string, std::vector<double>>> curves;
  for (const KernelOutcome &o : outcomes) {
    const std::vector<TrialRow> &t = o.record.trials;
    if (t.empty() || !t[0].ok || t[0].objectiveUs <= 0)
      continue;
    std::vector<double> y;
    double best = t[0].objectiveUs;
    for (const TrialRow &r : t) {
      if (r.ok)
        best = std::min(best, r.objectiveUs);
      y.push_back(best / t[0].objectiveUs);
    }
    curves.push_back({o.kernel.label(), y});
  }
  if (curves.empty()) {
    *error = path + ": nothing to plot (no kernel was measured in this run or "
                    "recorded with its trials)";
    return false;
  }
  size_t maxTrials = 1;
  double lo = 1.0;
  for (auto &c : curves) {
    maxTrials = std::max(maxTrials, c.second.size());
    for (double v : c.second)
      lo = std::min(lo, v);
  }
  lo = std::max(0.0, std::floor(lo * 10 - 0.5) / 10); // a round lower bound
  const double W = 760, H = 420, L = 70, R = 20, T = 40, B = 60;
  auto X = [&](double i) { return L + (W - L - R) * i / double(std::max<size_t>(1, maxTrials - 1)); };
  auto Y = [&](double v) { return T + (H - T - B) * (1.0 - (v - lo) / (1.0 - lo + 1e-9)); };
  const char *colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                          "#8c564b", "#e377c2", "#17becf"};
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\""
    << H + 20 * double(curves.size()) << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << L << "\" y=\"22\" font-size=\"14\">xfmr tune: best time / default "
       "schedule's time, by trial</text>\n";
  for (int i = 0; i <= 5; ++i) { // y grid and labels
    double v = lo + (1.0 - lo) * i / 5.0;
    s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(v) << "\" y2=\""
      << Y(v) << "\" stroke=\"#ddd\"/>\n<text x=\"" << L - 8 << "\" y=\"" << Y(v) + 4
      << "\" text-anchor=\"end\">" << (std::round(v * 100) / 100) << "</text>\n";
  }
  for (size_t i = 0; i < maxTrials; i += std::max<size_t>(1, maxTrials / 10))
    s << "<text x=\"" << X(double(i)) << "\" y=\"" << H - B + 18
      << "\" text-anchor=\"middle\">" << i << "</text>\n";
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - B + 38
    << "\" text-anchor=\"middle\">trial (0 = default schedule)</text>\n"
    << "<line x1=\"" << L << "\" x2=\"" << L << "\" y1=\"" << T << "\" y2=\"" << H - B
    << "\" stroke=\"black\"/>\n<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\""
    << H - B << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  for (size_t k = 0; k < curves.size(); ++k) {
    const char *c = colors[k % 8];
    s << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < curves[k].second.size(); ++i)
      s << X(double(i)) << "," << Y(curves[k].second[i]) << " ";
    double last = curves[k].second.back();
    s << "\"/>\n<rect x=\"" << L << "\" y=\"" << H + 20 * double(k) - 10
      << "\" width=\"14\" height=\"4\" fill=\"" << c << "\"/>\n<text x=\"" << L + 20
      << "\" y=\"" << H + 20 * double(k) - 4 << "\">" << escape(curves[k].first) << ": "
      << std::round(last * 1000) / 1000 << " after " << curves[k].second.size() - 1
      << " trials</text>\n";
  }
  s << "</svg>\n";
  // Atomically, and never onto a device node, a FIFO or a symlink.
  return ::xfmr::io::writeFileAtomic(path, s.str(), error);
}

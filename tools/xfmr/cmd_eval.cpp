// xfmr eval A B: how far model A's logits are from model B's on the same
// teacher-forced token stream. A and B are compiled models, or
// "reference:MODEL_DIR" for the float64 reference executor.
#include "cli.h"
#include "reference_model.h"
#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <sys/stat.h>

using namespace xfmr::cli;

namespace {
struct Evaluated {
  std::string name;
  std::vector<float> logits; // [n, vocab]
  int vocab = 0;
  int64_t bytes = 0;        // weights the model reads
  double decodeMs = NAN;    // median ms/token, compiled models only
};

int64_t fileSize(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : -1;
}

/// A JSON string literal (paths may hold quotes and backslashes).
std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += char(c);
    else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else
      out += char(c);
  }
  return out + "\"";
}

Evaluated runCompiled(const std::string &dir, const std::vector<int32_t> &tokens,
                      int threads) {
  Evaluated e;
  e.name = dir;
  xfmr_model *m = xfmr_model_open(dir.c_str(), threads);
  if (!m)
    die(kBadInput, xfmr_last_error());
  e.vocab = xfmr_model_vocab_size(m);
  e.bytes = xfmr_model_weight_bytes(m);
  xfmr_session *s = xfmr_session_create(m, 0);
  if (!s || xfmr_prefill(s, tokens.data(), int(tokens.size()), 1) != 0)
    die(kBadInput, dir + ": " + xfmr_last_error());
  int rows = 0;
  const float *l = xfmr_logits(s, &rows);
  e.logits.assign(l, l + size_t(rows) * size_t(e.vocab));
  // Decode latency: an 8-token prompt (fewer when the stream is shorter),
  // then 32 steps within the context; the median step.
  xfmr_session_reset(s);
  int prompt = int(std::min<size_t>(8, tokens.size()));
  int steps32 = std::min(32, xfmr_model_context_length(m) - prompt);
  if (steps32 < 1 || xfmr_prefill(s, tokens.data(), prompt, 0) != 0)
    die(kBadInput, dir + ": cannot time decode steps: " + xfmr_last_error());
  std::vector<double> steps;
  for (int i = 0; i < steps32; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    if (xfmr_decode(s, tokens[size_t(prompt + i) % tokens.size()]) != 0)
      die(1, dir + ": " + xfmr_last_error());
    steps.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - t0)
                        .count());
  }
  std::nth_element(steps.begin(), steps.begin() + long(steps.size() / 2), steps.end());
  e.decodeMs = steps[steps.size() / 2];
  xfmr_session_free(s);
  xfmr_model_close(m);
  return e;
}

Evaluated runReference(const std::string &dir, const std::vector<int32_t> &tokens) {
  Evaluated e;
  e.name = "reference:" + dir;
  std::string error;
  // The f32 model as imported, interpreted in float64 (any family).
  xfmr::driver::ReferenceModel ref;
  if (int rc = xfmr::driver::openReference(dir, xfmr::CompileOptions{}, 0, ref, &error))
    die(rc, error);
  e.vocab = int(ref.interpreter->vocab());
  e.bytes = int64_t(ref.files->checkpoint().dataBytes());
  xfmr::reference::Logits logits = ref.interpreter->forward(tokens);
  if (logits.empty() && !tokens.empty())
    die(kBadInput, "reference: " + ref.interpreter->error());
  for (const auto &row : logits)
    for (double v : row)
      e.logits.push_back(float(v));
  return e;
}

Evaluated load(const std::string &spec, const std::vector<int32_t> &tokens,
               int threads) {
  const std::string prefix = "reference:";
  if (spec.rfind(prefix, 0) == 0)
    return runReference(spec.substr(prefix.size()), tokens);
  return runCompiled(spec, tokens, threads);
}
} // namespace

int xfmr::cli::cmdEval(int argc, char **argv) {
  const char *usage = "xfmr eval A B [--positions 256] [--seed 1234] "
                      "[--threads N] [--json FILE]   (A, B: compiled model "
                      "directories or reference:MODEL_DIR; B is the baseline)";
  Args args(argc, argv, 2);
  int n = int(args.takeInt("--positions", 256, 2, 1 << 20));
  uint64_t seed = uint64_t(args.takeInt("--seed", 1234, 0, INT64_MAX));
  int threads = takeThreads(args);
  std::string jsonPath = args.take("--json");
  auto pos = args.positional(2, usage);

  // The token stream: uniformly random ids below both vocabularies.
  int vocabBound = 50257;
  for (const std::string &spec : pos)
    if (spec.rfind("reference:", 0) != 0) {
      xfmr_model *m = xfmr_model_open(spec.c_str(), 1);
      if (!m)
        die(kBadInput, xfmr_last_error());
      vocabBound = std::min(vocabBound, xfmr_model_vocab_size(m));
      if (n > xfmr_model_context_length(m))
        die(kBadInput, "--positions " + std::to_string(n) + " exceeds " + spec +
                           "'s context of " +
                           std::to_string(xfmr_model_context_length(m)));
      xfmr_model_close(m);
    }
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  uint64_t x = seed * 6364136223846793005ull + 1;
  for (int32_t &t : tokens) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((x >> 33) % uint64_t(vocabBound));
  }

  Evaluated a = load(pos[0], tokens, threads), b = load(pos[1], tokens, threads);
  if (a.vocab != b.vocab)
    die(kBadInput, "the models' vocabularies differ (" + std::to_string(a.vocab) +
                       " vs " + std::to_string(b.vocab) + ")");
  const size_t V = size_t(a.vocab);
  double relSum = 0, klSum = 0, relMax = 0;
  int agree = 0;
  for (int t = 0; t < n; ++t) {
    const float *pa = a.logits.data() + size_t(t) * V;
    const float *pb = b.logits.data() + size_t(t) * V;
    double num = 0, den = 0, ma = pa[0], mb = pb[0];
    size_t argA = 0, argB = 0;
    for (size_t i = 0; i < V; ++i) {
      num += (double(pa[i]) - pb[i]) * (double(pa[i]) - pb[i]);
      den += double(pb[i]) * pb[i];
      if (pa[i] > ma)
        ma = pa[argA = i];
      if (pb[i] > mb)
        mb = pb[argB = i];
    }
    double rel = std::sqrt(num / den);
    relSum += rel;
    relMax = std::max(relMax, rel);
    agree += argA == argB;
    // KL(P_b || P_a) from the log-softmaxes.
    double za = 0, zb = 0;
    for (size_t i = 0; i < V; ++i) {
      za += std::exp(double(pa[i]) - ma);
      zb += std::exp(double(pb[i]) - mb);
    }
    double lza = std::log(za) + ma, lzb = std::log(zb) + mb, kl = 0;
    for (size_t i = 0; i < V; ++i) {
      double lpb = double(pb[i]) - lzb, lpa = double(pa[i]) - lza;
      kl += std::exp(lpb) * (lpb - lpa);
    }
    klSum += kl;
  }
  double relMean = relSum / n, klMean = klSum / n, top1 = double(agree) / n;
  std::printf("A: %s (%.1f MB", a.name.c_str(), double(a.bytes) / 1e6);
  if (!std::isnan(a.decodeMs))
    std::printf(", decode %.2f ms/token", a.decodeMs);
  std::printf(")\nB: %s (%.1f MB", b.name.c_str(), double(b.bytes) / 1e6);
  if (!std::isnan(b.decodeMs))
    std::printf(", decode %.2f ms/token", b.decodeMs);
  std::printf(")\n%d teacher-forced positions, seed %llu\n", n,
              (unsigned long long)seed);
  std::printf("relative L2 error of the logits: mean %.4g, max %.4g\n", relMean,
              relMax);
  std::printf("mean KL(B || A): %.4g nats\n", klMean);
  std::printf("top-1 agreement: %.1f%%\n", 100 * top1);
  if (!jsonPath.empty()) {
    auto num = [](double v) { return std::isnan(v) ? std::string("null") : std::to_string(v); };
    char buf[4096];
    std::snprintf(buf, sizeof buf,
                  ",\"positions\":%d,\"seed\":%llu,"
                  "\"rel_l2_mean\":%.6g,\"rel_l2_max\":%.6g,\"kl_mean\":%.6g,"
                  "\"top1_agreement\":%.6g,\"a_bytes\":%lld,\"b_bytes\":%lld,"
                  "\"a_decode_ms\":%s,\"b_decode_ms\":%s}\n",
                  n, (unsigned long long)seed, relMean, relMax, klMean, top1,
                  (long long)a.bytes, (long long)b.bytes, num(a.decodeMs).c_str(),
                  num(b.decodeMs).c_str());
    std::string json =
        "{\"a\":" + jsonString(a.name) + ",\"b\":" + jsonString(b.name) + buf;
    std::string error;
    if (!xfmr::io::writeFileAtomic(jsonPath, json, &error))
      die(kBadInput, "--json " + error);
  }
  return 0;
}

// xfmr bench: the latency report. Time to first token and decode latency
// (p50, p99), the weight bytes a decode step reads and the bandwidth that
// achieves, beside what a plain read of a buffer of the same size reaches
// on the same threads in the same run, and the per-kernel decode time.
#include "cli.h"
#include "model_stages.h"
#include "xfmr/runtime.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace xfmr::cli;

namespace {
using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t i = size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

/// One-sided sign test: the chance that a model no faster than the other
/// wins at least `won` of `n` paired rounds.
double signTestP(int won, int n) {
  double p = 0, c = 1; // c = C(n, i)
  for (int i = 0; i <= n; ++i) {
    if (i >= won)
      p += c;
    c = c * (n - i) / (i + 1);
  }
  return p / std::pow(2.0, n);
}

/// `xfmr bench A --against B`: the two models timed in paired rounds, one
/// loaded at a time, as the tuner's whole-model check times them.
int compareModels(const std::string &a, const std::string &b, int threads, int rounds,
                  int promptLen, int gen, int quietWait) {
  if (threads <= 0)
    threads = int(std::max(1u, std::thread::hardware_concurrency()));
  double busy = busyCores(300);
  for (int waited = 0; busy > 0.05 && waited < quietWait; ++waited)
    busy = busyCores(1000);
  xfmr::driver::ModelTiming ta, tb;
  std::string error;
  if (xfmr::driver::compareCompiled(a, b, threads, rounds, &ta, &tb, &error, promptLen, gen))
    die(kBadInput, error);
  int won = xfmr::driver::roundsFaster(tb, ta);
  std::printf("A %s\nB %s\n%d paired rounds, %d threads, one model loaded at a time: "
              "a %d-token prompt, then decode steps (medians)\n",
              a.c_str(), b.c_str(), rounds, threads, promptLen);
  std::printf("decode   A %8.3f ms/token   B %8.3f ms/token   A/B %.3fx\n", ta.decodeMs,
              tb.decodeMs, ta.decodeMs / tb.decodeMs);
  std::printf("prefill  A %8.2f ms         B %8.2f ms         A/B %.3fx\n", ta.prefillMs,
              tb.prefillMs, ta.prefillMs / tb.prefillMs);
  std::printf("B faster in %d of %d rounds (decode + prefill/64; sign test p = %.3g)\n", won,
              rounds, signTestP(won, rounds));
  std::printf("other load before timing: %.2f cores busy%s\n", busy,
              busy > 0.05 ? " (NOT quiet: figures may be noisy)" : "");
  return 0;
}
} // namespace

int xfmr::cli::cmdBench(int argc, char **argv) {
  const char *usage = "xfmr bench OUT [--threads N] [--prompt-len P] [--gen G] "
                      "[--reps R] [--quiet-wait SECONDS] [--no-profile] [--mapped] [--json]\n"
                      "       xfmr bench A --against B [--rounds N] [--threads N] "
                      "[--prompt-len P] [--gen G] [--quiet-wait SECONDS]";
  Args args(argc, argv, 2);
  int threads = takeThreads(args);
  int promptLen = int(args.takeInt("--prompt-len", 128, 1, 1 << 20));
  int gen = int(args.takeInt("--gen", 64, 1, 1 << 20));
  int reps = int(args.takeInt("--reps", 5, 1, 1000));
  int quietWait = int(args.takeInt("--quiet-wait", 0, 0, 3600));
  bool json = args.flag("--json");
  bool profile = !args.flag("--no-profile");
  bool mapped = args.flag("--mapped"); // weights.bin mapped, not copied
  args.flag("--profile"); // the default; accepted for older scripts
  std::string against = args.take("--against");
  int rounds = int(args.takeInt("--rounds", 11, 1, 1000));
  auto pos = args.positional(1, usage);
  if (!against.empty() && (mapped || json))
    die(kBadInput, "--against compares two models as loaded by default: no --mapped or --json");
  if (!against.empty())
    return compareModels(pos[0], against, threads, rounds, promptLen, gen, quietWait);

  xfmr_model *model = mapped ? xfmr_model_open_mapped(pos[0].c_str(), threads)
                             : xfmr_model_open(pos[0].c_str(), threads);
  if (!model)
    die(kBadInput, xfmr_last_error());
  int vocab = xfmr_model_vocab_size(model);
  if (promptLen + gen > xfmr_model_context_length(model))
    die(kBadInput, "--prompt-len + --gen exceed the model's context of " +
                       std::to_string(xfmr_model_context_length(model)));
  xfmr_session *s = xfmr_session_create(model, 0);
  if (!s)
    die(1, xfmr_last_error());
  std::vector<int32_t> prompt(static_cast<size_t>(promptLen));
  uint64_t x = 42;
  for (int32_t &t : prompt) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    t = int32_t((x >> 33) % uint64_t(vocab));
  }
  xfmr_sampler_params greedy{};
  xfmr_sampler *sampler = xfmr_sampler_create(&greedy);

  // Wait (up to --quiet-wait s) for other processes to go under 5% of a core.
  double busy = busyCores(300);
  for (int waited = 0; busy > 0.05 && waited < quietWait; ++waited)
    busy = busyCores(1000);

  std::vector<double> ttft, decode;
  for (int r = -1; r < reps; ++r) { // r = -1: warm-up
    xfmr_session_reset(s);
    auto t0 = Clock::now();
    if (xfmr_prefill(s, prompt.data(), promptLen, 0) != 0)
      die(1, xfmr_last_error());
    int32_t next = xfmr_sample(sampler, xfmr_logits(s, nullptr), vocab);
    double first = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (r >= 0)
      ttft.push_back(first);
    for (int g = 0; g < gen; ++g) {
      auto t1 = Clock::now();
      if (xfmr_decode(s, next) != 0)
        die(1, xfmr_last_error());
      next = xfmr_sample(sampler, xfmr_logits(s, nullptr), vocab);
      if (r >= 0)
        decode.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t1).count());
    }
  }
  // Per-kernel prefill and decode time, in a separate pass so timing the
  // kernels does not disturb the figures above.
  std::vector<std::pair<double, std::string>> kernels, prefillKernels;
  if (profile) {
    std::vector<const char *> names(256);
    std::vector<double> secs(256), afterPrefill;
    auto read = [&] {
      int nk = std::min(256, xfmr_session_kernel_times(s, names.data(), secs.data(), 256));
      return std::vector<double>(secs.begin(), secs.begin() + nk);
    };
    xfmr_session_reset(s);
    xfmr_session_profile(s, 1);
    std::vector<double> before = read();
    if (xfmr_prefill(s, prompt.data(), promptLen, 0) != 0)
      die(1, xfmr_last_error());
    afterPrefill = read();
    int32_t next = 0;
    for (int g = 0; g < gen; ++g) {
      if (xfmr_decode(s, next) != 0)
        die(1, xfmr_last_error());
      next = xfmr_sample(sampler, xfmr_logits(s, nullptr), vocab);
    }
    std::vector<double> afterDecode = read();
    for (size_t i = 0; i < afterDecode.size(); ++i) {
      prefillKernels.push_back({(afterPrefill[i] - before[i]) * 1e3, names[i]});
      kernels.push_back({(afterDecode[i] - afterPrefill[i]) * 1e3 / gen, names[i]});
    }
    std::sort(kernels.rbegin(), kernels.rend());
    std::sort(prefillKernels.rbegin(), prefillKernels.rend());
  }
  double d50 = percentile(decode, 0.5), d99 = percentile(decode, 0.99);
  double t50 = percentile(ttft, 0.5), t99 = percentile(ttft, 0.99);
  const int64_t bytes = xfmr_model_decode_bytes(model);
  double gbps = double(bytes) / (d50 * 1e-3) / 1e9;
  // The probe reads as many bytes as a decode step, on the same threads.
  double probe = xfmr_model_probe_bandwidth(model, bytes, 21);
  if (probe < 0)
    die(1, xfmr_last_error());
  double share = gbps / probe;
  double kernelSum = 0, prefillSum = 0;
  for (auto &kv : kernels)
    kernelSum += kv.first;
  for (auto &kv : prefillKernels)
    prefillSum += kv.first;
  int nt = xfmr_model_threads(model);
  int64_t weightBytes = xfmr_model_weight_bytes(model);
  int64_t hugeBytes = xfmr_model_weight_huge_page_bytes(model);
  double hugeShare = weightBytes > 0 && hugeBytes >= 0 ? double(hugeBytes) / double(weightBytes) : -1;
  if (json) {
    std::printf("{\"model\":\"%s\",\"threads\":%d,\"prompt_len\":%d,\"gen\":%d,"
                "\"reps\":%d,\"ttft_ms_p50\":%.3f,\"ttft_ms_p99\":%.3f,"
                "\"decode_ms_p50\":%.3f,\"decode_ms_p99\":%.3f,"
                "\"tokens_per_s\":%.2f,\"weight_bytes\":%lld,"
                "\"decode_bytes_per_token\":%lld,\"decode_gb_per_s\":%.2f,"
                "\"probe_gb_per_s\":%.2f,\"probe_bytes\":%lld,"
                "\"bandwidth_share\":%.3f,\"busy_cores_before\":%.3f,"
                "\"weights_mapped\":%s,\"weights_huge_page_share\":%.3f",
                pos[0].c_str(), nt, promptLen, gen, reps, t50, t99, d50, d99,
                1000.0 / d50, (long long)weightBytes,
                (long long)bytes, gbps, probe, (long long)bytes, share, busy,
                mapped ? "true" : "false", hugeShare);
    if (profile) {
      std::printf(",\"decode_kernel_ms\":{");
      for (size_t i = 0; i < kernels.size(); ++i)
        std::printf("%s\"%s\":%.4f", i ? "," : "", kernels[i].second.c_str(),
                    kernels[i].first);
      std::printf("},\"prefill_kernel_ms\":{");
      for (size_t i = 0; i < prefillKernels.size(); ++i)
        std::printf("%s\"%s\":%.4f", i ? "," : "",
                    prefillKernels[i].second.c_str(), prefillKernels[i].first);
      std::printf("}");
    }
    std::printf("}\n");
  } else {
    std::printf("model %s, %d threads, prompt %d tokens, %d decode steps x %d reps\n",
                pos[0].c_str(), nt, promptLen, gen, reps);
    std::printf("time to first token  p50 %8.2f ms   p99 %8.2f ms\n", t50, t99);
    std::printf("decode               p50 %8.2f ms   p99 %8.2f ms   (%.1f tokens/s)\n",
                d50, d99, 1000.0 / d50);
    std::printf("weights read/token   %.1f MB at p50 -> %.1f GB/s\n",
                double(bytes) / 1e6, gbps);
    if (hugeShare >= 0)
      std::printf("weights in memory    %s, %.0f%% on 2 MiB pages\n",
                  mapped ? "mapped from weights.bin" : "copied", hugeShare * 100);
    std::printf("bandwidth probe      %.1f GB/s reading %.1f MB on %d threads "
                "-> decode reaches %.0f%% of it\n",
                probe, double(bytes) / 1e6, nt, share * 100);
    std::printf("other load before timing: %.2f cores busy%s\n", busy,
                busy > 0.05 ? " (NOT quiet: figures may be noisy)" : "");
    if (profile) {
      std::printf("decode time per kernel (ms per token, timed separately; "
                  "sum %.3f):\n", kernelSum);
      for (auto &[ms, name] : kernels)
        std::printf("  %-28s %8.3f  %5.1f%%\n", name.c_str(), ms,
                    kernelSum > 0 ? 100 * ms / kernelSum : 0.0);
      std::printf("prefill time per kernel (ms for the %d-token prompt; sum %.2f):\n",
                  promptLen, prefillSum);
      for (auto &[ms, name] : prefillKernels)
        std::printf("  %-28s %8.3f  %5.1f%%\n", name.c_str(), ms,
                    prefillSum > 0 ? 100 * ms / prefillSum : 0.0);
    }
  }
  xfmr_sampler_free(sampler);
  xfmr_session_free(s);
  xfmr_model_close(model);
  return 0;
}

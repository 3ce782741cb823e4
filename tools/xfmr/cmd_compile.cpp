// xfmr compile / xfmr import
#include "cli.h"
#include "compile_model.h"

#include <chrono>

using namespace xfmr::cli;

xfmr::CompileOptions xfmr::cli::takeCompileOptions(Args &args) {
  CompileOptions opts;
  opts.maxTokens = args.takeInt("--max-tokens", 512, 1, 1 << 20);
  opts.context = args.takeInt("--context", 0, 1, 1 << 24);
  std::string prefetch = args.take("--prefetch", "auto");
  if (prefetch == "auto")
    opts.prefetch = -2;
  else if (prefetch == "off")
    opts.prefetch = 0;
  else if (prefetch == "default")
    opts.prefetch = -1;
  else {
    char *end = nullptr;
    long v = std::strtol(prefetch.c_str(), &end, 10);
    if (!end || *end || v < 1 || v > (1 << 20))
      die(kBadInput, "--prefetch must be auto, off, default or a byte distance from 1 to "
                     "1048576, got '" + prefetch + "'");
    opts.prefetch = v;
  }
  // Unset (0): tiles by weight format, see xfmr-assign-schedules.
  opts.tileN = args.takeInt("--tile-n", 0, 1, 4096);
  opts.tileM = args.takeInt("--tile-m", 0, 1, 16);
  opts.dropLast = args.takeInt("--drop-last", 0, 0, 1 << 20);
  opts.precision = args.take("--precision", "f32");
  if (opts.precision != "f32" && opts.precision != "bf16" &&
      opts.precision != "int8" && opts.precision != "int4")
    die(kBadInput, "--precision must be f32, bf16, int8 or int4, got '" +
                       opts.precision + "'");
  // 0: the format's default (int4: 32; int8: one scale per output channel).
  opts.groupSize = args.takeInt("--group-size", 0, 1, 1 << 20);
  opts.scaleType = args.take("--scale-type", "f16");
  if (opts.scaleType != "f16" && opts.scaleType != "f32")
    die(kBadInput, "--scale-type must be f16 or f32, got '" + opts.scaleType + "'");
  opts.zeroPoint = args.flag("--zero-point");
  opts.noDot = args.flag("--no-dot");
  opts.bf16Dot = args.flag("--bf16-dot");
  opts.noFuse = args.flag("--no-fuse");
  opts.amx = args.flag("--amx");
  opts.attentionSplits = args.takeInt("--attention-splits", 1, 1, 64);
  opts.kvPrecision = args.take("--kv-precision", "f32");
  if (opts.kvPrecision != "f32" && opts.kvPrecision != "f16" &&
      opts.kvPrecision != "int8")
    die(kBadInput, "--kv-precision must be f32, f16 or int8, got '" +
                       opts.kvPrecision + "'");
  std::string keep = args.take("--keep");
  for (size_t i = 0; i < keep.size();) {
    size_t j = keep.find(',', i);
    if (j == std::string::npos)
      j = keep.size();
    if (j > i)
      opts.keep.push_back(keep.substr(i, j - i));
    i = j + 1;
  }
  std::string drop = args.take("--drop-layers");
  for (size_t i = 0; i < drop.size();) {
    size_t j = drop.find(',', i);
    if (j == std::string::npos)
      j = drop.size();
    std::string part = drop.substr(i, j - i);
    char *end = nullptr;
    long v = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v < 0)
      die(kBadInput, "--drop-layers expects comma-separated block indices, got '" +
                         part + "'");
    opts.dropLayers.push_back(v);
    i = j + 1;
  }
  return opts;
}

double xfmr::cli::takeDuration(Args &args, const std::string &name, double def) {
  std::string v = args.take(name);
  if (v.empty())
    return def;
  char *end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  std::string unit = end;
  double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : -1;
  if (end == v.c_str() || scale < 0 || !(x > 0) || x * scale > 7 * 86400)
    die(kBadInput, "option " + name + " expects a duration like 90s, 10m or 1h, got '" +
                       v + "'");
  return x * scale;
}

int xfmr::cli::cmdCompile(int argc, char **argv) {
  const char *usage = "xfmr compile MODEL_DIR -o OUT [--max-tokens N] [--context N] "
                      "[--precision f32|bf16|int8|int4] [--group-size N] "
                      "[--scale-type f16|f32] [--zero-point] [--keep lm_head,...] "
                      "[--kv-precision f32|f16|int8] [--no-dot] [--bf16-dot] [--no-fuse] [--amx] [--attention-splits 1] "
                      "[--prefetch auto|off|default|BYTES] "
                      "[--drop-layers 3,5] [--drop-last N] [--tile-n N] [--tile-m N] [--dump-ir DIR] "
                      "[--cpu NAME --features +a,+b] "
                      "[--tune-db PATH [--tune-budget 2m] [--tune-trials 24] [--tune-threads N]]";
  Args args(argc, argv, 2);
  std::string out = args.take("-o");
  CompileOptions opts = takeCompileOptions(args);
  opts.irDumpDir = args.take("--dump-ir");
  opts.cpu = args.take("--cpu");
  opts.features = args.take("--features");
  opts.tuneDb = args.take("--tune-db");
  opts.tuneBudgetSeconds = takeDuration(args, "--tune-budget", 120);
  opts.tuneTrials = int(args.takeInt("--tune-trials", 24, 1, 100000));
  opts.tuneThreads = takeThreads(args, "--tune-threads");
  auto pos = args.positional(1, usage);
  if (out.empty())
    die(kBadInput, std::string("missing -o OUT\nusage: ") + usage);
  auto t0 = std::chrono::steady_clock::now();
  std::string error;
  TuneReport tuned;
  CompileTimes times;
  int rc = compileModel(pos[0], out, opts, &error, &tuned, &times);
  if (rc != 0)
    die(rc, error);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!opts.tuneDb.empty())
    std::printf("tuning: %d kernels, %d from %s, %d measured now (%lld trials)%s\n",
                tuned.kernels, tuned.fromDatabase, opts.tuneDb.c_str(), tuned.measured,
                (long long)tuned.trials,
                tuned.modelChecked
                    ? (", whole-model check kept " +
                       std::to_string(tuned.measured - tuned.rejected) + "/" +
                       std::to_string(tuned.measured))
                          .c_str()
                    : "");
  std::printf("compiled %s -> %s (%s) in %.2f s (model %.1f, weights %.1f, kernels %.1f)\n",
              pos[0].c_str(), out.c_str(), times.formats.c_str(), s, times.prepare,
              times.weights, times.kernels);
  return 0;
}

int xfmr::cli::cmdImport(int argc, char **argv) {
  Args args(argc, argv, 2);
  int64_t context = args.takeInt("--context", 0, 1, 1 << 24);
  auto pos = args.positional(1, "xfmr import MODEL_DIR [--context N]");
  std::string text, error;
  int rc = importModel(pos[0], &text, &error, context);
  if (rc != 0)
    die(rc, error);
  std::fputs(text.c_str(), stdout);
  return 0;
}

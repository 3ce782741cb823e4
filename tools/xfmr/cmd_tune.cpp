// xfmr tune / xfmr tune-db: the autotuner and its database.
#include "cli.h"
#include "xfmr/Autotune/TuningDB.h"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>

using namespace xfmr::cli;

namespace {
/// A progress bar on a terminal (one line, redrawn); elsewhere, a line
/// per kernel change and every 10 trials.
void showProgress(const std::string &line) {
  static bool tty = isatty(2);
  if (tty) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    return;
  }
  static std::string lastKernel;
  std::string kernel = line.substr(0, line.find(" trials"));
  size_t t = line.find("trials");
  int trials = t == std::string::npos ? 0 : std::atoi(line.c_str() + t + 6);
  if (kernel != lastKernel || trials % 10 == 0)
    std::fprintf(stderr, "%s\n", line.c_str());
  lastKernel = kernel;
}

/// The whole-model check's line (when something was tuned now).
void printModelCheck(const xfmr::TuneReport &r) {
  if (!r.modelChecked)
    return;
  std::string sweeps;
  for (const std::string &name : r.sweepsKept)
    sweeps += ", " + name + " (whole-model sweep)";
  std::string won = r.revertedAtEnd
                        ? ", nothing kept: the tuned model was no faster in this final comparison"
                    : r.keptDefault ? ", nothing kept: the default model is the tuned one"
                                  : ", tuned faster in " + std::to_string(r.roundsWon) +
                                        " of " + std::to_string(r.rounds) + " rounds";
  std::printf("whole model, default vs tuned schedules (%d paired rounds, one model loaded at a time: a 128-token "
              "prefill, then 32 decode steps): decode %.3f vs %.3f ms/token (%.3fx), "
              "prefill %.1f vs %.1f ms%s\n",
              r.rounds, r.defaultDecodeMs, r.tunedDecodeMs,
              r.tunedDecodeMs > 0 ? r.defaultDecodeMs / r.tunedDecodeMs : 0.0,
              r.defaultPrefillMs, r.tunedPrefillMs,
              (won +
               std::string(r.rejected ? ", " + std::to_string(r.rejected) +
                                            " kernel(s) kept the default: slower in the model"
                                      : "") +
               sweeps)
                  .c_str());
}

std::string defaultDB() {
  const char *xdg = std::getenv("XDG_CACHE_HOME");
  const char *home = std::getenv("HOME");
  std::string dir = xdg && *xdg ? std::string(xdg) : std::string(home ? home : ".") + "/.cache";
  return dir + "/xfmr/tuning.db";
}
} // namespace

int xfmr::cli::cmdTune(int argc, char **argv) {
  const char *usage =
      "xfmr tune MODEL_DIR [--precision f32|bf16|int8|int4 ...compile options] "
      "[--budget 10m] [--trials 40] [--db PATH] [--threads N] [--plot FILE.svg] "
      "[--retune] [--exhaustive] [--quiet-wait S]";
  Args args(argc, argv, 2);
  CompileOptions opts = takeCompileOptions(args);
  opts.tuneDb = args.take("--db", defaultDB());
  opts.tuneBudgetSeconds = takeDuration(args, "--budget", 600);
  opts.tuneTrials = int(args.takeInt("--trials", 40, 1, 100000));
  opts.tuneThreads = takeThreads(args);
  opts.retune = args.flag("--retune");
  opts.exhaustive = args.flag("--exhaustive");
  std::string plot = args.take("--plot");
  if (!plot.empty() && (plot.size() < 4 || plot.substr(plot.size() - 4) != ".svg"))
    die(kBadInput, "--plot writes an SVG file (FILE.svg), got '" + plot + "'");
  int quietWait = int(args.takeInt("--quiet-wait", 0, 0, 3600));
  auto pos = args.positional(1, usage);
  // The database's folder (the default one may not exist yet).
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(opts.tuneDb).parent_path();
  if (!parent.empty() && !std::filesystem::create_directories(parent, ec) && ec)
    die(kBadInput, parent.string() + ": cannot create the database's folder (" +
                       ec.message() + ")");

  double busy = busyCores(300);
  for (int waited = 0; busy > 0.05 && waited < quietWait; ++waited)
    busy = busyCores(1000);
  if (busy > 0.05)
    std::fprintf(stderr, "xfmr tune: other load %.2f cores: timings may be noisy\n", busy);

  TuneReport report;
  std::string error;
  int rc = tuneModel(pos[0], opts, plot, &report, &error, showProgress);
  if (isatty(2))
    std::fprintf(stderr, "\n");
  if (rc != 0)
    die(rc, error);
  std::printf("database %s, target %s\n", opts.tuneDb.c_str(),
              report.target.substr(0, report.target.find(" features=")).c_str());
  std::printf("%-42s %4s %6s  %10s %10s %7s  %10s %10s  %s\n", "kernel", "uses", "trials",
              "default us", "tuned us", "speedup", "decode us", "prefill us", "tuned schedule");
  double dSum = 0, tSum = 0;
  for (const TuneReport::Row &r : report.rows) {
    std::string sched = r.schedule == r.defaultSchedule ? "(default)" : r.schedule;
    if (sched.rfind("#xfmr.schedule<", 0) == 0)
      sched = sched.substr(15, sched.size() - 16);
    std::printf("%-42s %4lld %5d%s  %10.1f %10.1f %6.3fx  %10.1f %10.1f  %s\n",
                r.label.c_str(), (long long)r.uses, r.trials, r.fromDatabase ? "*" : " ",
                r.defaultObjectiveUs, r.objectiveUs,
                r.objectiveUs > 0 ? r.defaultObjectiveUs / r.objectiveUs : 0.0,
                r.decodeUs, r.prefillUs, sched.c_str());
    dSum += r.defaultObjectiveUs * double(r.uses);
    tSum += r.objectiveUs * double(r.uses);
  }
  std::printf("model (sum over uses): default %.1f us, tuned %.1f us per token -> %.3fx "
              "(us: decode + prefill/64, medians of 3 interleaved re-measurements)\n",
              dSum, tSum, tSum > 0 ? dSum / tSum : 0.0);
  if (report.fromDatabase)
    std::printf("* from the database, not measured now (--retune measures again)\n");
  printModelCheck(report);
  if (!plot.empty())
    std::printf("tuning curves: %s\n", plot.c_str());
  return 0;
}

int xfmr::cli::cmdTuneDB(int argc, char **argv) {
  const char *usage = "xfmr tune-db export DB FILE.json | import DB FILE.json | list DB";
  Args(argc, argv, 2).exitIfHelp(usage);
  if (argc < 4)
    die(kBadInput, std::string("usage: ") + usage);
  std::string verb = argv[2];
  std::string error;
  namespace t = mlir::xfmr::tune;
  if (verb == "list") {
    auto pos = Args(argc, argv, 3).positional(1, usage);
    auto db = t::TuningDB::open(pos[0], false, &error);
    std::vector<t::TuningRecord> all;
    if (!db || !db->all(&all, &error))
      die(kBadInput, error);
    for (const t::TuningRecord &r : all)
      std::printf("%s %s %s  %s  %.1f us (default %.1f)  %s  [%s]\n", r.family.c_str(),
                  r.shape.c_str(), r.precision.c_str(), r.schedule.c_str(), r.objectiveUs,
                  r.defaultObjectiveUs, r.version.c_str(),
                  r.target.substr(0, r.target.find(" features=")).c_str());
    std::printf("%zu records\n", all.size());
    return 0;
  }
  if (verb != "export" && verb != "import")
    die(kBadInput, "unknown tune-db verb '" + verb + "'\nusage: " + usage);
  auto pos = Args(argc, argv, 3).positional(2, usage);
  auto db = t::TuningDB::open(pos[0], verb == "import", &error);
  if (!db)
    die(kBadInput, error);
  if (verb == "export") {
    if (!db->exportJSON(pos[1], &error))
      die(kBadInput, error);
    std::printf("exported %s -> %s\n", pos[0].c_str(), pos[1].c_str());
    return 0;
  }
  int n = db->importJSON(pos[1], &error);
  if (n < 0)
    die(kBadInput, error);
  std::printf("imported %d records from %s into %s\n", n, pos[1].c_str(), pos[0].c_str());
  return 0;
}

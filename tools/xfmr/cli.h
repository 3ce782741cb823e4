// Shared pieces of the xfmr command line: argument access and exits.
#ifndef XFMR_TOOLS_CLI_H
#define XFMR_TOOLS_CLI_H

#include "compile_model.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace xfmr::cli {

/// Exit code for bad input: usage errors, bad model files, bad options.
constexpr int kBadInput = 2;

[[noreturn]] inline void die(int code, const std::string &message) {
  std::fprintf(stderr, "xfmr: %s\n", message.c_str());
  std::exit(code);
}

/// A tiny option reader: positional arguments, `--flag VALUE` and flags.
class Args {
public:
  Args(int argc, char **argv, int first) : argv_(argv + first, argv + argc) {}
  /// The value after `name`, removing both; `def` when absent.
  std::string take(const std::string &name, const std::string &def = "") {
    for (size_t i = 0; i < argv_.size(); ++i)
      if (argv_[i] == name) {
        if (i + 1 >= argv_.size())
          die(kBadInput, "option " + name + " needs a value");
        std::string v = argv_[i + 1];
        // `-n ""` is a mistake, not a request for the default.
        if (v.empty())
          die(kBadInput, "option " + name + " needs a value, got ''");
        argv_.erase(argv_.begin() + long(i), argv_.begin() + long(i) + 2);
        return v;
      }
    return def;
  }
  long takeInt(const std::string &name, long def, long lo, long hi) {
    std::string v = take(name);
    if (v.empty())
      return def;
    char *end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    if (*end != '\0' || x < lo || x > hi)
      die(kBadInput, "option " + name + " expects an integer in [" +
                         std::to_string(lo) + ", " + std::to_string(hi) +
                         "], got '" + v + "'");
    return x;
  }
  double takeFloat(const std::string &name, double def, double lo, double hi) {
    std::string v = take(name);
    if (v.empty())
      return def;
    char *end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (*end != '\0' || !(x >= lo && x <= hi))
      die(kBadInput, "option " + name + " expects a number in [" + number(lo) + ", " +
                         number(hi) + "], got '" + v + "'");
    return x;
  }
  bool flag(const std::string &name) {
    for (size_t i = 0; i < argv_.size(); ++i)
      if (argv_[i] == name) {
        argv_.erase(argv_.begin() + long(i));
        return true;
      }
    return false;
  }
  /// `--help`/`-h` anywhere: print the usage and exit 0 (the top-level
  /// usage points users at `xfmr COMMAND --help`).
  void exitIfHelp(const char *usage) const {
    for (const std::string &a : argv_)
      if (a == "--help" || a == "-h") {
        std::printf("usage: %s\n", usage);
        std::exit(0);
      }
  }
  /// The remaining positional arguments; any leftover option is an error.
  std::vector<std::string> positional(size_t count, const char *usage) {
    exitIfHelp(usage);
    for (const std::string &a : argv_)
      if (a.size() > 1 && a[0] == '-')
        die(kBadInput, "unknown option '" + a + "'\nusage: " + usage);
    if (argv_.size() != count)
      die(kBadInput, std::string("usage: ") + usage);
    return argv_;
  }

private:
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }
  std::vector<std::string> argv_;
};

/// `--threads N` (0: one per core). More threads than cores only makes
/// every step wait for descheduled workers (999 on 2 cores: 22 s per
/// token), so it is capped at the core count, with a note.
inline int takeThreads(Args &args, const std::string &name = "--threads") {
  long n = args.takeInt(name, 0, 0, 4096);
  long cores = long(std::max(1u, std::thread::hardware_concurrency()));
  if (n > cores) {
    std::fprintf(stderr, "xfmr: note: %s %ld capped at this machine's %ld cores\n",
                 name.c_str(), n, cores);
    n = cores;
  }
  return int(n);
}

/// Comma-separated non-negative token ids (`--tokens 1,2,3`), the value of
/// `option`; anything else exits with a one-line error.
inline std::vector<int32_t> parseIds(const std::string &option, const std::string &s) {
  std::string expects = option + " expects comma-separated non-negative ids, got ";
  if (!s.empty() && s.back() == ',')
    die(kBadInput, expects + "a trailing ','");
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos)
      j = s.size();
    std::string part = s.substr(i, j - i);
    char *end = nullptr;
    long v = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || v < 0 || v > INT32_MAX || part[0] == '-' ||
        part[0] == '+' || part[0] == ' ')
      die(kBadInput, expects + "'" + part + "'");
    ids.push_back(int32_t(v));
    i = j + 1;
  }
  return ids;
}

/// The model options `xfmr compile` and `xfmr tune` share.
CompileOptions takeCompileOptions(Args &args);
/// A duration option: "90" or "90s", "10m", "1h" -> seconds.
double takeDuration(Args &args, const std::string &name, double def);
/// Cores' worth of CPU in use by everyone over `ms` (from /proc/stat).
double busyCores(int ms);

int cmdCompile(int argc, char **argv);
int cmdTune(int argc, char **argv);
int cmdTuneDB(int argc, char **argv);
int cmdImport(int argc, char **argv);
int cmdRun(int argc, char **argv);
int cmdBench(int argc, char **argv);
int cmdInitModel(int argc, char **argv);
int cmdEval(int argc, char **argv);
int cmdVerify(int argc, char **argv);
int cmdTokenize(int argc, char **argv);
int cmdExportGGUF(int argc, char **argv);

} // namespace xfmr::cli

#endif

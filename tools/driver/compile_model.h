// xfmr compile: model directory -> compiled model directory.
#ifndef XFMR_TOOLS_COMPILE_MODEL_H
#define XFMR_TOOLS_COMPILE_MODEL_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xfmr {

struct CompileOptions {
  int64_t maxTokens = 512; // rows per call; longer prompts run in chunks
  int64_t context = 0;     // positions the KV cache holds (0: the model's)
  /// Software prefetch of the linear kernels' weights: -2 auto (off when
  /// the compiled weights exceed this host's L3, where the hardware
  /// prefetchers stream them from DRAM faster alone), -1 the kernels'
  /// default (2 KB ahead), 0 off, else bytes ahead.
  int64_t prefetch = -2;
  int64_t tileN = 0;       // default column tile of matrix products (0: by format)
  int64_t tileM = 0;       // default row tile (tokens) of matrix products (0: by format)
  bool noDot = false;      // widen quantized weights instead of dot products
  bool bf16Dot = false;    // bf16: AVX512-BF16 on bf16-rounded activations
  bool noFuse = false;     // skip the fusion passes (for comparison)
  int64_t attentionSplits = 1; // > 1: flash-decoding over position ranges
  bool amx = false;        // int8 prefill on AMX tiles where the CPU has them
                           // (measured no faster than VNNI yet: docs/passes.md)
                           // (faster; 6.1e-3 logit error vs 5.0e-3, off by default)
  std::string cpu;         // empty: this host
  std::string features;
  std::string irDumpDir;   // when set: xfmr.mlir, kernels.mlir, kernels.ll
  std::vector<int64_t> dropLayers; // transformer blocks to remove
  int64_t dropLast = 0;            // remove this many blocks from the end
  std::string precision = "f32";   // f32, bf16, int8, int4
  int64_t groupSize = 0;           // 0: int4 32, int8 per channel
  std::string scaleType = "f16";   // int8/int4 scales: f16 or f32
  bool zeroPoint = false;          // int4
  std::vector<std::string> keep;   // consumers or name parts left in f32
  std::string kvPrecision = "f32"; // KV cache storage: f32, f16, int8
  // Autotuning (empty tuneDb: default schedules). Kernels the database has
  // for this target are reused; the others are tuned first (measured),
  // within the budget, and recorded.
  std::string tuneDb;
  double tuneBudgetSeconds = 120; // all kernels together
  int tuneTrials = 24;            // per kernel
  int tuneThreads = 0;            // 0: the machine's cores (as xfmr run)
  bool retune = false;            // measure even what the database has
  bool exhaustive = false;        // measure every candidate (benchmarks)
  // Schedules pinned by kernel signature, attached before defaults (the
  // tuner's whole-model check compiles its variants with these).
  std::map<std::string, std::string> pinnedSchedules;
};

/// What tuning did during a compile or `xfmr tune`.
struct TuneReport {
  int kernels = 0;      // tunable kernels of the model
  int fromDatabase = 0; // reused without measuring
  int measured = 0;     // tuned now
  int64_t trials = 0;   // candidates measured
  std::string target;   // the database key's target
  // The whole-model check of what was tuned now (model_check.cpp): both
  // models compiled and timed interleaved; ms per token and prefill ms.
  bool modelChecked = false;
  int rejected = 0; // kernels whose tuned schedule lost in the model
  // The whole-model sweeps that won and stayed, e.g. "prefetches into L2".
  std::vector<std::string> sweepsKept;
  bool revertedAtEnd = false; // the final comparison found no gain: defaults kept
  double defaultDecodeMs = 0, tunedDecodeMs = 0;
  bool keptDefault = false;     // every kernel kept its default: nothing to compare
  int rounds = 0, roundsWon = 0; // paired rounds of that comparison, tuned faster in
  double defaultPrefillMs = 0, tunedPrefillMs = 0;
  struct Row {
    std::string label;
    int64_t uses = 0;
    bool fromDatabase = false;
    int trials = 0;
    std::string defaultSchedule, schedule;
    double defaultDecodeUs = 0, decodeUs = 0, defaultPrefillUs = 0, prefillUs = 0;
    double defaultObjectiveUs = 0, objectiveUs = 0;
  };
  std::vector<Row> rows;
};

/// Where a compile's wall time went, in seconds: reading the model and the
/// model-level passes (and tuning), writing weights.bin (reading, packing,
/// quantizing every tensor), and generating kernels.so (kernel formation,
/// MLIR lowering, LLVM optimization and object emission).
struct CompileTimes {
  double prepare = 0, weights = 0, kernels = 0;
  /// What the matrices were stored as, by bytes: "int8g32-f16s 98%, f32 2%"
  /// (a GGUF file's blocks keep their own type whatever --precision says).
  std::string formats;
};

/// Compiles MODEL_DIR into OUT (written to OUT.tmp, then renamed, so a
/// failure leaves no partial model). Returns 0, 2 for bad input (message in
/// *error, naming the file and tensor), 1 for internal failures.
int compileModel(const std::string &modelDir, const std::string &outDir,
                 const CompileOptions &options, std::string *error,
                 TuneReport *report = nullptr, CompileTimes *times = nullptr);

/// Tunes the kernels of MODEL_DIR as `options` would compile it, into
/// options.tuneDb; with `plotPath`, writes the tuning curves (SVG).
/// `progress` receives one status line at a time. Same return codes.
int tuneModel(const std::string &modelDir, const CompileOptions &options,
              const std::string &plotPath, TuneReport *report, std::string *error,
              void (*progress)(const std::string &line) = nullptr);

/// The tunable kernels of MODEL_DIR as `options` would compile it, each as
/// its one-op signature (for benchmarks of the tuner). Same return codes.
int listTunableKernels(const std::string &modelDir, const CompileOptions &options,
                       std::vector<std::string> *sources,
                       std::vector<std::string> *labels, std::string *error);

/// Prints the xfmr module of MODEL_DIR. Same return codes.
int importModel(const std::string &modelDir, std::string *text,
                std::string *error, int64_t context = 0);

} // namespace xfmr

#endif

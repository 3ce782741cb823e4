// Parser of manifest.txt (format: docs/runtime.md). Every line is checked
// and every number range-checked before anything is sized from it: the
// manifest is input like any other file, and a crafted one must give an
// error naming its line, never a buffer too small for what a kernel writes.
#include "model.h"
#include "xfmr/io/checksum.h"
#include "xfmr/kernel_table.h"

#include <cctype>
#include <cstring>
#include <set>
#include <sstream>

using namespace xfmr::rt;
using L = ManifestLimits;

namespace {
/// A decimal integer in [lo, hi], digits only (no sign, no spaces, no
/// wrap-around: "2147483648" is a number, not -2^31).
bool parseInt(const std::string &tok, int64_t lo, int64_t hi, int64_t &out) {
  if (tok.empty() || tok.size() > 19)
    return false;
  int64_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0'); // 19 digits cannot overflow int64
  }
  if (v < lo || v > hi)
    return false;
  out = v;
  return true;
}

bool mulChecked(int64_t a, int64_t b, int64_t &out) {
  return !__builtin_mul_overflow(a, b, &out) && out <= L::kMaxBytes;
}

bool isSymbol(const std::string &s) {
  if (s.empty() || s.size() > 256)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
      return false;
  return true;
}

bool parseRef(const std::string &tok, const Model &m, Ref &ref) {
  if (tok == "tok") {
    ref.kind = Ref::Tokens;
    return true;
  }
  if (tok == "L") {
    ref.kind = Ref::Logits;
    return true;
  }
  int64_t count;
  switch (tok[0]) {
  case 'w':
    ref.kind = Ref::Weight, count = int64_t(m.weights.size());
    break;
  case 'a':
    ref.kind = Ref::Slot, count = int64_t(m.slotRowBytes.size());
    break;
  case 'c':
    ref.kind = Ref::Cache, count = m.kvLayers;
    break;
  default:
    return false;
  }
  int64_t index;
  if (count <= 0 || !parseInt(tok.substr(1), 0, count - 1, index))
    return false;
  ref.index = int(index);
  return true;
}

/// The fields of one line, split on whitespace.
std::vector<std::string> fields(const std::string &line) {
  std::istringstream ls(line);
  std::vector<std::string> f;
  for (std::string t; ls >> t;)
    f.push_back(t);
  return f;
}

/// Sizes the session buffers from the checked numbers, once.
bool sizeBuffers(Model &m, std::string *why) {
  if (!mulChecked(m.maxTokens, 4, m.tokensBytes) ||
      !mulChecked(m.maxTokens * 4, m.vocab, m.logitsBytes)) {
    *why = "max_tokens x vocab logits exceed " + std::to_string(L::kMaxBytes) + " bytes";
    return false;
  }
  int64_t layerBytes;
  if (!mulChecked(m.kvHalfBytes, 2, layerBytes) ||
      !mulChecked(layerBytes, m.kvLayers, m.cacheBytes)) {
    *why = "the KV cache exceeds " + std::to_string(L::kMaxBytes) + " bytes";
    return false;
  }
  m.slotBytes.clear();
  for (int64_t rowBytes : m.slotRowBytes) {
    int64_t bytes;
    if (!mulChecked(rowBytes, m.maxTokens, bytes)) {
      *why = "an activation slot of max_tokens rows exceeds " +
             std::to_string(L::kMaxBytes) + " bytes";
      return false;
    }
    m.slotBytes.push_back(bytes);
  }
  return true;
}
} // namespace

bool xfmr::rt::parseManifest(const std::string &text, Model &m, std::string *error) {
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  bool sawHeader = false, sawEnd = false;
  std::set<std::string> seen; // keys that may appear once
  auto fail = [&](const std::string &why) {
    *error = "manifest.txt line " + std::to_string(lineNo) + ": " + why;
    return false;
  };
  if (text.size() > size_t(L::kMaxManifestBytes))
    return fail("larger than " + std::to_string(L::kMaxManifestBytes) + " bytes");
  while (std::getline(in, line)) {
    ++lineNo;
    std::vector<std::string> f = fields(line);
    if (f.empty())
      continue;
    const std::string &key = f[0];
    if (!sawHeader) {
      if (key != "xfmr-manifest" || f.size() != 2)
        return fail("not an xfmr manifest");
      if (f[1] == "1")
        return fail("manifest version 1 was written by an older xfmr: compile the model "
                    "again");
      if (f[1] != "2")
        return fail("manifest version '" + f[1] + "' is not the one this runtime reads (2)");
      sawHeader = true;
      continue;
    }
    if (sawEnd)
      return fail("text after 'end'");
    static const std::set<std::string> singletons = {
        "max_tokens",   "vocab",          "kv",
        "weights_bytes", "decode_bytes",  "weights_checksum",
        "weights_fingerprint", "requires"};
    if (singletons.count(key) && !seen.insert(key).second)
      return fail("'" + key + "' is given twice");
    auto arity = [&](size_t lo, size_t hi) { return f.size() >= lo && f.size() <= hi; };
    auto needs = [&](const char *before) {
      return seen.count(before) ? true : fail(key + " before '" + before + "'");
    };
    if (key == "model") {
      int64_t v;
      if (f.size() != 3 || !isSymbol(f[1]) || !parseInt(f[2], 0, INT64_MAX, v))
        return fail("expected 'model NAME VALUE'");
      if (!m.info.emplace(f[1], v).second)
        return fail("'model " + f[1] + "' is given twice");
    } else if (key == "max_tokens") {
      if (f.size() != 2 || !parseInt(f[1], 1, L::kMaxTokens, m.maxTokens))
        return fail("bad max_tokens (1 to " + std::to_string(L::kMaxTokens) + ")");
    } else if (key == "vocab") {
      if (f.size() != 2 || !parseInt(f[1], 1, L::kMaxVocab, m.vocab))
        return fail("bad vocab (1 to " + std::to_string(L::kMaxVocab) + ")");
    } else if (key == "kv") {
      if (!arity(5, 6) || !parseInt(f[1], 1, L::kMaxLayers, m.kvLayers) ||
          !parseInt(f[2], 1, L::kMaxHeads, m.kvHeads) ||
          !parseInt(f[3], 1, L::kMaxContext, m.kvContext) ||
          !parseInt(f[4], 1, L::kMaxHeadDim, m.headDim))
        return fail("bad kv line (layers, heads, context, head_dim out of range)");
      std::string dtype = f.size() == 6 ? f[5] : "f32";
      int64_t vectors = m.kvHeads * m.kvContext, elems; // < 2^36: no overflow
      if (!mulChecked(vectors, m.headDim, elems))
        return fail("bad kv line: the cache is too large");
      if (dtype == "f32")
        m.kvHalfBytes = elems * 4;
      else if (dtype == "f16")
        m.kvHalfBytes = elems * 2;
      else if (dtype == "i8") // codes, then one f32 scale per head vector
        m.kvHalfBytes = elems + vectors * 4;
      else
        return fail("unknown kv cache type '" + dtype + "'");
      if (m.kvHalfBytes > L::kMaxBytes)
        return fail("bad kv line: the cache is too large");
    } else if (key == "weights_bytes") {
      if (f.size() != 2 || !parseInt(f[1], 0, L::kMaxBytes, m.weightBytes))
        return fail("bad weights_bytes");
    } else if (key == "weights_checksum" || key == "weights_fingerprint") {
      uint64_t &h = key == "weights_checksum" ? m.weightsChecksum : m.weightsFingerprint;
      if (f.size() != 2 || !xfmr::io::hexToHash(f[1], &h))
        return fail("bad " + key + " (16 hex digits)");
    } else if (key == "requires") {
      if (f.size() != 2 || f[1] != "amx")
        return fail("unknown required feature '" + (f.size() > 1 ? f[1] : "") + "'");
      m.needsAMX = true;
    } else if (key == "decode_bytes") {
      if (!needs("weights_bytes"))
        return false;
      if (f.size() != 2 || !parseInt(f[1], 0, m.weightBytes, m.decodeBytes))
        return fail("bad decode_bytes (0 to weights_bytes)");
    } else if (key == "weight") {
      if (!needs("weights_bytes"))
        return false;
      int64_t id;
      WeightEntry w;
      if (!arity(5, 6) || !parseInt(f[1], 0, L::kMaxEntries, id) ||
          id != int64_t(m.weights.size()) || !parseInt(f[2], 0, m.weightBytes, w.offset) ||
          !parseInt(f[3], 1, m.weightBytes - w.offset, w.bytes) || w.offset % 64 != 0)
        return fail("bad weight entry (id in order, 64-byte aligned offset, bytes inside "
                    "weights_bytes)");
      w.name = f[4];
      m.weights.push_back(w);
    } else if (key == "slot") {
      int64_t id, bytes;
      if (f.size() != 3 || !parseInt(f[1], 0, L::kMaxEntries, id) ||
          id != int64_t(m.slotRowBytes.size()) || !parseInt(f[2], 1, L::kMaxRowBytes, bytes))
        return fail("bad slot entry");
      m.slotRowBytes.push_back(bytes);
    } else if (key == "kernel") {
      int64_t id;
      Kernel k;
      if (f.size() != 4 || !parseInt(f[1], 0, L::kMaxEntries, id) ||
          id != int64_t(m.kernels.size()) || !isSymbol(f[2]))
        return fail("bad kernel entry");
      k.symbol = f[2];
      if (f[3] != "rows" && !parseInt(f[3], 1, L::kMaxUnits, k.units))
        return fail("bad kernel work '" + f[3] + "'");
      m.kernels.push_back(k);
    } else if (key == "dispatch") {
      if (!needs("max_tokens") || !needs("vocab") || !needs("kv"))
        return false;
      Dispatch d;
      int64_t kernel;
      if (f.size() < 3 || m.kernels.empty() ||
          !parseInt(f[1], 0, int64_t(m.kernels.size()) - 1, kernel))
        return fail("bad dispatch kernel");
      if (int64_t(m.dispatches.size()) >= L::kMaxEntries)
        return fail("too many dispatches");
      d.kernel = int(kernel);
      size_t next = 3;
      if (f[2] == "logits") {
        if (f.size() < 4 || !parseInt(f[3], 1, L::kMaxRowBytes, d.inputRowBytes))
          return fail("bad logits row bytes");
        d.logits = true;
        next = 4;
      } else if (f[2] != "-") {
        return fail("bad dispatch flag '" + f[2] + "'");
      }
      size_t buffers = 0;
      for (size_t i = next; i < f.size(); ++i) {
        Ref r;
        if (!parseRef(f[i], m, r))
          return fail("bad buffer reference '" + f[i] + "'");
        buffers += r.kind == Ref::Cache ? 2 : 1; // keys and values
        d.args.push_back(r);
      }
      if (d.args.size() < 2 || buffers > L::kMaxBuffers)
        return fail("a dispatch needs 2 to " + std::to_string(L::kMaxBuffers) + " buffers");
      if (d.args.back().kind != Ref::Slot && d.args.back().kind != Ref::Logits)
        return fail("a dispatch's last buffer (its output) must be a slot or the logits");
      if (d.logits && (d.args.front().kind != Ref::Slot || d.args.back().kind != Ref::Logits))
        return fail("the logits dispatch reads a slot and writes L");
      m.dispatches.push_back(d);
    } else if (key == "end") {
      sawEnd = true;
    } else {
      return fail("unknown entry '" + key + "'");
    }
  }
  if (!sawHeader)
    return fail("empty manifest");
  if (!sawEnd)
    return fail("truncated (no 'end' line)");
  for (const char *key : {"max_tokens", "vocab", "kv", "weights_bytes", "weights_checksum",
                          "weights_fingerprint"})
    if (!seen.count(key))
      return fail(std::string("missing '") + key + "'");
  if (m.dispatches.empty())
    return fail("no dispatch lines");
  // The positional table bounds the positions a session may reach.
  auto positions = m.info.find("n_ctx");
  if (positions != m.info.end() && m.kvContext > positions->second)
    return fail("kv context " + std::to_string(m.kvContext) + " exceeds the model's " +
                std::to_string(positions->second) + " positions");
  std::string why;
  if (!sizeBuffers(m, &why))
    return fail(why);
  return true;
}

std::vector<int64_t> xfmr::rt::dispatchBufferBytes(const Model &m, const Dispatch &d) {
  std::vector<int64_t> bytes;
  for (const Ref &r : d.args) {
    switch (r.kind) {
    case Ref::Weight:
      bytes.push_back(m.weights[size_t(r.index)].bytes);
      break;
    case Ref::Slot:
      bytes.push_back(m.slotBytes[size_t(r.index)]);
      break;
    case Ref::Tokens:
      bytes.push_back(m.tokensBytes);
      break;
    case Ref::Logits:
      bytes.push_back(m.logitsBytes);
      break;
    case Ref::Cache:
      bytes.push_back(m.kvHalfBytes);
      bytes.push_back(m.kvHalfBytes);
      break;
    }
  }
  return bytes;
}

bool xfmr::rt::bindKernels(Model &m, const xfmr_kernel_table &t, bool checkHash,
                           std::string *error) {
  auto fail = [&](const std::string &why) {
    *error = "kernels.so: " + why;
    return false;
  };
  if (t.abi != XFMR_KERNEL_TABLE_ABI)
    return fail("kernel table ABI " + std::to_string(t.abi) + ", this runtime reads " +
                std::to_string(XFMR_KERNEL_TABLE_ABI) + ": compile the model again");
  if (checkHash && t.manifest_hash != xfmr::io::hash64(m.manifestText.data(),
                                                       m.manifestText.size()))
    return fail("compiled with another manifest.txt (copied from another model, or the "
                "manifest was edited): compile the model again");
  // Token ids index the embedding table and positions the positional table
  // and the cache: their bounds must be the ones the kernels were built for.
  if (t.max_tokens != m.maxTokens || t.vocab != m.vocab || t.kv_context != m.kvContext)
    return fail("kernels compiled for max_tokens " + std::to_string(t.max_tokens) +
                ", vocab " + std::to_string(t.vocab) + " and context " +
                std::to_string(t.kv_context) + ", the manifest says " +
                std::to_string(m.maxTokens) + ", " + std::to_string(m.vocab) + " and " +
                std::to_string(m.kvContext));
  if (t.n_kernels < 0 || t.n_kernels > L::kMaxEntries || (t.n_kernels && !t.kernels))
    return fail("malformed kernel table");
  std::vector<const xfmr_kernel_info *> infos;
  for (Kernel &k : m.kernels) {
    const xfmr_kernel_info *info = nullptr;
    for (int64_t i = 0; i < t.n_kernels && !info; ++i)
      if (t.kernels[i].symbol && k.symbol == t.kernels[i].symbol)
        info = &t.kernels[i];
    if (!info || !info->entry)
      return fail("no kernel '" + k.symbol + "' in its table");
    if (info->units != k.units)
      return fail("kernel '" + k.symbol + "' splits into " + std::to_string(info->units) +
                  " units, the manifest says " + std::to_string(k.units));
    if (info->n_buffers < 0 || size_t(info->n_buffers) > L::kMaxBuffers ||
        (info->n_buffers && !info->buffer_bytes))
      return fail("kernel '" + k.symbol + "' has a malformed entry");
    k.fn = info->entry;
    infos.push_back(info);
  }
  for (size_t di = 0; di < m.dispatches.size(); ++di) {
    const Dispatch &d = m.dispatches[di];
    const xfmr_kernel_info &info = *infos[size_t(d.kernel)];
    std::vector<int64_t> have = dispatchBufferBytes(m, d);
    std::string where = "dispatch " + std::to_string(di) + " (" + info.symbol + ")";
    if (int64_t(have.size()) != info.n_buffers)
      return fail(where + " passes " + std::to_string(have.size()) +
                  " buffers, the kernel takes " + std::to_string(info.n_buffers));
    for (size_t i = 0; i < have.size(); ++i)
      if (have[i] < info.buffer_bytes[i])
        return fail(where + ": buffer " + std::to_string(i) + " has " +
                    std::to_string(have[i]) + " bytes, the kernel may touch " +
                    std::to_string(info.buffer_bytes[i]));
    // The LM head reads its input from a row offset: (n - rows) rows in,
    // `rows` rows of the width the kernel reads (its loop stops at the n
    // it is given), so it ends at n rows <= max_tokens rows of that width,
    // within buffer_bytes[0] and so within the slot.
    if (d.logits && d.inputRowBytes * m.maxTokens != info.buffer_bytes[0])
      return fail(where + ": logits input rows of " + std::to_string(d.inputRowBytes) +
                  " bytes, the kernel reads rows of " +
                  std::to_string(info.buffer_bytes[0] / m.maxTokens));
  }
  return true;
}

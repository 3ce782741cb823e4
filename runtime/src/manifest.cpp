// Parser of manifest.txt (format: docs/runtime.md). Every line is checked;
// an error names the line.
#include "model.h"

#include <sstream>

using namespace xfmr::rt;

namespace {
bool parseRef(const std::string &tok, const Model &m, Ref &ref) {
  auto number = [&](size_t from, int &out) {
    if (tok.size() <= from)
      return false;
    char *end = nullptr;
    long v = std::strtol(tok.c_str() + from, &end, 10);
    if (*end != '\0' || v < 0)
      return false;
    out = int(v);
    return true;
  };
  if (tok == "tok") {
    ref.kind = Ref::Tokens;
    return true;
  }
  if (tok == "L") {
    ref.kind = Ref::Logits;
    return true;
  }
  switch (tok[0]) {
  case 'w':
    ref.kind = Ref::Weight;
    return number(1, ref.index) && ref.index < int(m.weights.size());
  case 'a':
    ref.kind = Ref::Slot;
    return number(1, ref.index) && ref.index < int(m.slotRowBytes.size());
  case 'c':
    ref.kind = Ref::Cache;
    return number(1, ref.index) && ref.index < m.kvLayers;
  default:
    return false;
  }
}
} // namespace

bool xfmr::rt::parseManifest(const std::string &text, Model &m,
                             std::string *error) {
  std::istringstream in(text);
  std::string line;
  int lineNo = 0;
  bool sawHeader = false, sawEnd = false;
  auto fail = [&](const std::string &why) {
    *error = "manifest.txt line " + std::to_string(lineNo) + ": " + why;
    return false;
  };
  while (std::getline(in, line)) {
    ++lineNo;
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key))
      continue;
    if (!sawHeader) {
      int version = 0;
      if (key != "xfmr-manifest" || !(ls >> version) || version != 1)
        return fail("not an xfmr manifest (version 1)");
      sawHeader = true;
      continue;
    }
    if (sawEnd)
      return fail("text after 'end'");
    if (key == "model") {
      std::string name;
      int64_t v;
      if (!(ls >> name >> v))
        return fail("expected 'model NAME VALUE'");
      m.info[name] = v;
    } else if (key == "max_tokens") {
      if (!(ls >> m.maxTokens) || m.maxTokens <= 0)
        return fail("bad max_tokens");
    } else if (key == "vocab") {
      if (!(ls >> m.vocab) || m.vocab <= 0)
        return fail("bad vocab");
    } else if (key == "kv") {
      std::string dtype = "f32";
      if (!(ls >> m.kvLayers >> m.kvHeads >> m.kvContext >> m.headDim) ||
          m.kvLayers <= 0 || m.kvHeads <= 0 || m.kvContext <= 0 || m.headDim <= 0)
        return fail("bad kv line");
      ls >> dtype;
      int64_t vectors = m.kvHeads * m.kvContext;
      if (dtype == "f32")
        m.kvHalfBytes = vectors * m.headDim * 4;
      else if (dtype == "f16")
        m.kvHalfBytes = vectors * m.headDim * 2;
      else if (dtype == "i8") // codes, then one f32 scale per head vector
        m.kvHalfBytes = vectors * m.headDim + vectors * 4;
      else
        return fail("unknown kv cache type '" + dtype + "'");
    } else if (key == "weights_bytes") {
      if (!(ls >> m.weightBytes) || m.weightBytes < 0)
        return fail("bad weights_bytes");
    } else if (key == "requires") {
      std::string feature;
      if (!(ls >> feature) || feature != "amx")
        return fail("unknown required feature '" + feature + "'");
      m.needsAMX = true;
    } else if (key == "decode_bytes") {
      if (!(ls >> m.decodeBytes) || m.decodeBytes < 0 ||
          m.decodeBytes > m.weightBytes)
        return fail("bad decode_bytes");
    } else if (key == "weight") {
      size_t id;
      WeightEntry w;
      if (!(ls >> id >> w.offset >> w.bytes >> w.name) || id != m.weights.size() ||
          w.offset < 0 || w.bytes <= 0 || w.offset % 64 != 0 ||
          w.offset + w.bytes > m.weightBytes)
        return fail("bad weight entry");
      m.weights.push_back(w);
    } else if (key == "slot") {
      size_t id;
      int64_t bytes;
      if (!(ls >> id >> bytes) || id != m.slotRowBytes.size() || bytes <= 0)
        return fail("bad slot entry");
      m.slotRowBytes.push_back(bytes);
    } else if (key == "kernel") {
      size_t id;
      Kernel k;
      std::string work;
      if (!(ls >> id >> k.symbol >> work) || id != m.kernels.size())
        return fail("bad kernel entry");
      if (work != "rows") {
        char *end = nullptr;
        k.units = std::strtoll(work.c_str(), &end, 10);
        if (*end != '\0' || k.units <= 0)
          return fail("bad kernel work '" + work + "'");
      }
      m.kernels.push_back(k);
    } else if (key == "dispatch") {
      Dispatch d;
      std::string flag, tok;
      if (!(ls >> d.kernel >> flag) || d.kernel < 0 ||
          d.kernel >= int(m.kernels.size()))
        return fail("bad dispatch kernel");
      if (flag == "logits") {
        d.logits = true;
        if (!(ls >> d.inputRowBytes) || d.inputRowBytes <= 0)
          return fail("bad logits row bytes");
      } else if (flag != "-") {
        return fail("bad dispatch flag '" + flag + "'");
      }
      while (ls >> tok) {
        Ref r;
        if (!parseRef(tok, m, r))
          return fail("bad buffer reference '" + tok + "'");
        d.args.push_back(r);
      }
      if (d.args.size() < 2 || d.args.size() > 16)
        return fail("a dispatch needs 2 to 16 buffers");
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
  if (m.maxTokens <= 0 || m.vocab <= 0 || m.kvLayers <= 0 || m.dispatches.empty())
    return fail("missing max_tokens, vocab, kv or dispatch lines");
  return true;
}

//===- gguf.cpp - llama.cpp's GGUF files, read and written -----------------===//
#include "xfmr/import/gguf.h"
#include "xfmr/io/files.h"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace xfmr::io;

namespace {
constexpr char kMagic[4] = {'G', 'G', 'U', 'F'};

/// The fewest bytes a value of type `t` occupies in the file (0: no such
/// type): what a count is checked against before anything is allocated.
size_t minBytes(uint32_t t) {
  switch (GGUFType(t)) {
  case GGUFType::U8: case GGUFType::I8: case GGUFType::Bool:
    return 1;
  case GGUFType::U16: case GGUFType::I16:
    return 2;
  case GGUFType::U32: case GGUFType::I32: case GGUFType::F32:
    return 4;
  case GGUFType::U64: case GGUFType::I64: case GGUFType::F64: case GGUFType::String:
    return 8;
  case GGUFType::Array:
    return 12;
  }
  return 0;
}

/// Bounds-checked little-endian reading of the file's bytes.
struct Cursor {
  const uint8_t *p;
  size_t size, at = 0;
  const std::string &name;
  std::string *error;

  size_t left() const { return size - at; }
  bool fail(const std::string &why) {
    *error = name + ": " + why + " (at byte " + std::to_string(at) + ")";
    return false;
  }
  template <typename T> bool get(T *v, const std::string &what) {
    if (left() < sizeof(T))
      return fail("truncated in " + what);
    std::memcpy(v, p + at, sizeof(T));
    at += sizeof(T);
    return true;
  }
  bool str(std::string *s, const std::string &what) {
    uint64_t n;
    if (!get(&n, what + " (string length)"))
      return false;
    if (n > left())
      return fail(what + ": a string of " + std::to_string(n) + " bytes runs past the end (" +
                  std::to_string(left()) + " left)");
    s->assign(reinterpret_cast<const char *>(p + at), size_t(n));
    at += size_t(n);
    return true;
  }

  bool value(uint32_t type, GGUFValue *v, const std::string &what, int depth) {
    v->type = GGUFType(type);
    switch (GGUFType(type)) {
    case GGUFType::U8: { uint8_t x; if (!get(&x, what)) return false; v->u = x; return true; }
    case GGUFType::U16: { uint16_t x; if (!get(&x, what)) return false; v->u = x; return true; }
    case GGUFType::U32: { uint32_t x; if (!get(&x, what)) return false; v->u = x; return true; }
    case GGUFType::U64: { uint64_t x; if (!get(&x, what)) return false; v->u = x; return true; }
    case GGUFType::I8: { int8_t x; if (!get(&x, what)) return false; v->i = x; return true; }
    case GGUFType::I16: { int16_t x; if (!get(&x, what)) return false; v->i = x; return true; }
    case GGUFType::I32: { int32_t x; if (!get(&x, what)) return false; v->i = x; return true; }
    case GGUFType::I64: { int64_t x; if (!get(&x, what)) return false; v->i = x; return true; }
    case GGUFType::F32: { float x; if (!get(&x, what)) return false; v->f = x; return true; }
    case GGUFType::F64: { double x; if (!get(&x, what)) return false; v->f = x; return true; }
    case GGUFType::Bool: {
      uint8_t x;
      if (!get(&x, what))
        return false;
      if (x > 1)
        return fail(what + ": a bool must be 0 or 1, got " + std::to_string(x));
      v->u = x;
      return true;
    }
    case GGUFType::String:
      return str(&v->s, what);
    case GGUFType::Array: {
      uint32_t et;
      uint64_t n;
      if (!get(&et, what + " (array type)") || !get(&n, what + " (array length)"))
        return false;
      if (minBytes(et) == 0)
        return fail(what + ": array of unknown value type " + std::to_string(et));
      if (GGUFType(et) == GGUFType::Array && depth + 1 >= GGUFFile::kMaxArrayDepth)
        return fail(what + ": arrays nested deeper than " +
                    std::to_string(GGUFFile::kMaxArrayDepth) + " levels");
      if (n > left() / minBytes(et))
        return fail(what + ": an array of " + std::to_string(n) + " " +
                    ggufTypeName(GGUFType(et)) + " values cannot fit in the " +
                    std::to_string(left()) + " bytes left");
      v->elementType = GGUFType(et);
      v->elements.resize(size_t(n));
      for (uint64_t k = 0; k < n; ++k)
        if (!value(et, &v->elements[size_t(k)], what + "[" + std::to_string(k) + "]", depth + 1))
          return false;
      return true;
    }
    }
    return fail(what + ": unknown value type " + std::to_string(type));
  }
};

struct Block {
  const char *name;
  int64_t elements, bytes;
};
/// ggml's block layouts (ggml-common.h), by type number.
const std::map<uint32_t, Block> &blocks() {
  static const std::map<uint32_t, Block> table = {
      {0, {"F32", 1, 4}},       {1, {"F16", 1, 2}},       {2, {"Q4_0", 32, 18}},
      {3, {"Q4_1", 32, 20}},    {6, {"Q5_0", 32, 22}},    {7, {"Q5_1", 32, 24}},
      {8, {"Q8_0", 32, 34}},    {9, {"Q8_1", 32, 36}},    {10, {"Q2_K", 256, 84}},
      {11, {"Q3_K", 256, 110}}, {12, {"Q4_K", 256, 144}}, {13, {"Q5_K", 256, 176}},
      {14, {"Q6_K", 256, 210}}, {15, {"Q8_K", 256, 292}}, {24, {"I8", 1, 1}},
      {25, {"I16", 1, 2}},      {26, {"I32", 1, 4}},      {27, {"I64", 1, 8}},
      {28, {"F64", 1, 8}},      {30, {"BF16", 1, 2}},
  };
  return table;
}
} // namespace

const char *xfmr::io::ggufTypeName(GGUFType t) {
  static const char *names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) < 13 ? names[uint32_t(t)] : "unknown";
}

bool xfmr::io::ggmlBlock(uint32_t type, int64_t *elements, int64_t *bytes) {
  auto it = blocks().find(type);
  if (it == blocks().end())
    return false;
  *elements = it->second.elements;
  *bytes = it->second.bytes;
  return true;
}

std::string xfmr::io::ggmlTypeName(uint32_t type) {
  auto it = blocks().find(type);
  return it == blocks().end() ? "type " + std::to_string(type) : it->second.name;
}

GGUFValue GGUFValue::unsignedInt(GGUFType t, uint64_t v) {
  GGUFValue x;
  x.type = t;
  x.u = v;
  return x;
}
GGUFValue GGUFValue::signedInt(GGUFType t, int64_t v) {
  GGUFValue x;
  x.type = t;
  x.i = v;
  return x;
}
GGUFValue GGUFValue::real(GGUFType t, double v) {
  GGUFValue x;
  x.type = t;
  x.f = v;
  return x;
}
GGUFValue GGUFValue::boolean(bool v) { return unsignedInt(GGUFType::Bool, v ? 1 : 0); }
GGUFValue GGUFValue::string(std::string v) {
  GGUFValue x;
  x.type = GGUFType::String;
  x.s = std::move(v);
  return x;
}
GGUFValue GGUFValue::array(GGUFType elementType, std::vector<GGUFValue> v) {
  GGUFValue x;
  x.type = GGUFType::Array;
  x.elementType = elementType;
  x.elements = std::move(v);
  return x;
}
GGUFValue GGUFValue::strings(const std::vector<std::string> &v) {
  std::vector<GGUFValue> e;
  e.reserve(v.size());
  for (const std::string &s : v)
    e.push_back(string(s));
  return array(GGUFType::String, std::move(e));
}

int64_t GGUFTensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : ne)
    n *= d;
  return n;
}

GGUFFile::~GGUFFile() {
  if (ownsMap_ && bytes_)
    munmap(const_cast<uint8_t *>(bytes_), size_);
}

const GGUFValue *GGUFFile::find(const std::string &key) const {
  auto it = keyIndex_.find(key);
  return it == keyIndex_.end() ? nullptr : &kv_[it->second].second;
}

const GGUFTensorInfo *GGUFFile::findTensor(const std::string &name) const {
  auto it = tensorIndex_.find(name);
  return it == tensorIndex_.end() ? nullptr : &tensors_[it->second];
}

std::unique_ptr<GGUFFile> GGUFFile::open(const std::string &path, std::string *error) {
  size_t size = 0;
  const uint8_t *map = mapRegularFile(path, 24, "no room for a GGUF header (24 bytes)", &size, error);
  if (!map)
    return nullptr;
  auto f = parse(map, size, path, error);
  if (!f) {
    munmap(const_cast<uint8_t *>(map), size);
    return nullptr;
  }
  f->ownsMap_ = true;
  return f;
}

std::unique_ptr<GGUFFile> GGUFFile::parse(const uint8_t *bytes, size_t size,
                                          const std::string &name, std::string *error) {
  std::unique_ptr<GGUFFile> f(new GGUFFile());
  f->path_ = name;
  f->bytes_ = bytes;
  f->size_ = size;
  Cursor c{bytes, size, 0, name, error};
  if (size < 4 || std::memcmp(bytes, kMagic, 4) != 0) {
    *error = name + ": not a GGUF file (no \"GGUF\" magic at byte 0)";
    return nullptr;
  }
  c.at = 4;
  uint32_t version;
  if (!c.get(&version, "the header (version)"))
    return nullptr;
  if (version != 2 && version != 3) {
    uint32_t swapped = __builtin_bswap32(version);
    *error = name + ": " +
             (swapped == 2 || swapped == 3
                  ? "a big-endian GGUF file; xfmr reads little-endian ones"
              : version == 1 ? "GGUF version 1 (32-bit counts, 2023) is not supported; "
                               "convert it again with a current llama.cpp"
                             : "unknown GGUF version " + std::to_string(version));
    return nullptr;
  }
  f->version_ = version;
  uint64_t nTensors, nKV;
  if (!c.get(&nTensors, "the header (tensor count)") ||
      !c.get(&nKV, "the header (metadata count)"))
    return nullptr;
  // Each entry needs at least its fixed fields: bound the counts by the file.
  if (nKV > kMaxKeys || nKV > c.left() / 13) {
    c.fail(std::to_string(nKV) + " metadata entries cannot fit in the file");
    return nullptr;
  }
  if (nTensors > kMaxTensors || nTensors > c.left() / 32) {
    c.fail(std::to_string(nTensors) + " tensors cannot fit in the file");
    return nullptr;
  }

  for (uint64_t k = 0; k < nKV; ++k) {
    std::string key;
    uint32_t type;
    if (!c.str(&key, "metadata entry " + std::to_string(k) + " (key)") ||
        !c.get(&type, "metadata " + xfmr::io::quoted(key) + " (type)"))
      return nullptr;
    if (minBytes(type) == 0) {
      c.fail("metadata " + xfmr::io::quoted(key) + ": unknown value type " + std::to_string(type));
      return nullptr;
    }
    if (f->keyIndex_.count(key)) {
      c.fail("metadata " + xfmr::io::quoted(key) + " appears twice");
      return nullptr;
    }
    GGUFValue v;
    if (!c.value(type, &v, "metadata " + xfmr::io::quoted(key), 0))
      return nullptr;
    f->keyIndex_[key] = f->kv_.size();
    f->kv_.emplace_back(std::move(key), std::move(v));
  }
  if (const GGUFValue *a = f->find("general.alignment")) {
    if (a->type != GGUFType::U32 || a->u == 0 || (a->u & (a->u - 1)) != 0) {
      *error = name + ": metadata 'general.alignment' must be a u32 power of two, got " +
               (a->type == GGUFType::U32 ? std::to_string(a->u)
                                         : std::string("a ") + ggufTypeName(a->type));
      return nullptr;
    }
    f->alignment_ = a->u;
  }

  f->tensors_.reserve(size_t(nTensors));
  for (uint64_t k = 0; k < nTensors; ++k) {
    GGUFTensorInfo t;
    uint32_t nDims;
    if (!c.str(&t.name, "tensor info " + std::to_string(k) + " (name)") ||
        !c.get(&nDims, "tensor " + xfmr::io::quoted(t.name) + " (dimension count)"))
      return nullptr;
    auto bad = [&](const std::string &why) {
      c.fail("tensor " + xfmr::io::quoted(t.name) + ": " + why);
      return nullptr;
    };
    if (nDims == 0 || nDims > uint32_t(kMaxDims))
      return bad(std::to_string(nDims) + " dimensions (1 to " + std::to_string(kMaxDims) +
                 " allowed)");
    unsigned __int128 elements = 1;
    for (uint32_t d = 0; d < nDims; ++d) {
      int64_t ne;
      if (!c.get(&ne, "tensor " + xfmr::io::quoted(t.name) + " (dimensions)"))
        return nullptr;
      if (ne <= 0)
        return bad("dimension " + std::to_string(d) + " is " + std::to_string(ne));
      elements *= uint64_t(ne);
      if (elements > (unsigned __int128)(INT64_MAX))
        return bad("more than 2^63 elements");
      t.ne.push_back(ne);
    }
    if (!c.get(&t.type, "tensor " + xfmr::io::quoted(t.name) + " (type)") ||
        !c.get(&t.offset, "tensor " + xfmr::io::quoted(t.name) + " (offset)"))
      return nullptr;
    int64_t be, bb;
    if (!ggmlBlock(t.type, &be, &bb))
      return bad("ggml " + ggmlTypeName(t.type) + ", whose block layout xfmr does not know");
    if (t.ne[0] % be != 0)
      return bad("a row of " + std::to_string(t.ne[0]) + " values is not whole " +
                 ggmlTypeName(t.type) + " blocks of " + std::to_string(be));
    unsigned __int128 bytesNeeded = elements / uint64_t(be) * uint64_t(bb);
    if (bytesNeeded > size)
      return bad("its " + std::to_string(uint64_t(elements)) + " " + ggmlTypeName(t.type) +
                 " values need more bytes than the file has");
    t.bytes = uint64_t(bytesNeeded);
    if (t.offset % f->alignment_ != 0)
      return bad("offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                 std::to_string(f->alignment_));
    if (f->tensorIndex_.count(t.name))
      return bad("appears twice");
    f->tensorIndex_[t.name] = f->tensors_.size();
    f->tensors_.push_back(std::move(t));
  }
  // The data section starts at the next multiple of the alignment.
  uint64_t dataStart = (uint64_t(c.at) + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  if (dataStart > size) {
    if (!f->tensors_.empty()) {
      *error = name + ": the data section (byte " + std::to_string(dataStart) +
               ") starts past the end of the file (" + std::to_string(size) + " bytes)";
      return nullptr;
    }
    dataStart = size;
  }
  f->data_ = bytes + dataStart;
  const uint64_t dataBytes = size - dataStart;
  for (const GGUFTensorInfo &t : f->tensors_)
    if (t.offset > dataBytes || t.bytes > dataBytes - t.offset) {
      *error = name + ": tensor " + xfmr::io::quoted(t.name) + ": its " + std::to_string(t.bytes) +
               " bytes at data offset " + std::to_string(t.offset) +
               " run past the end of the file (" + std::to_string(dataBytes) +
               " bytes of data)";
      return nullptr;
    }
  return f;
}

namespace {
template <typename T> void put(std::vector<uint8_t> &out, T v) {
  const auto *p = reinterpret_cast<const uint8_t *>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
void putString(std::vector<uint8_t> &out, const std::string &s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
bool putValue(std::vector<uint8_t> &out, const GGUFValue &v, std::string *error) {
  switch (v.type) {
  case GGUFType::U8: put<uint8_t>(out, uint8_t(v.u)); return true;
  case GGUFType::U16: put<uint16_t>(out, uint16_t(v.u)); return true;
  case GGUFType::U32: put<uint32_t>(out, uint32_t(v.u)); return true;
  case GGUFType::U64: put<uint64_t>(out, v.u); return true;
  case GGUFType::Bool: put<uint8_t>(out, v.u ? 1 : 0); return true;
  case GGUFType::I8: put<int8_t>(out, int8_t(v.i)); return true;
  case GGUFType::I16: put<int16_t>(out, int16_t(v.i)); return true;
  case GGUFType::I32: put<int32_t>(out, int32_t(v.i)); return true;
  case GGUFType::I64: put<int64_t>(out, v.i); return true;
  case GGUFType::F32: put<float>(out, float(v.f)); return true;
  case GGUFType::F64: put<double>(out, v.f); return true;
  case GGUFType::String: putString(out, v.s); return true;
  case GGUFType::Array:
    put<uint32_t>(out, uint32_t(v.elementType));
    put<uint64_t>(out, v.elements.size());
    for (const GGUFValue &e : v.elements) {
      if (e.type != v.elementType) {
        *error = "array element of type " + std::string(ggufTypeName(e.type)) +
                 " in an array of " + ggufTypeName(v.elementType);
        return false;
      }
      if (!putValue(out, e, error))
        return false;
    }
    return true;
  }
  *error = "unknown value type";
  return false;
}
} // namespace

bool xfmr::io::encodeGGUF(const std::vector<std::pair<std::string, GGUFValue>> &metadata,
                          const std::vector<GGUFTensorData> &tensors,
                          std::vector<uint8_t> *out, std::string *error) {
  uint64_t alignment = 32;
  for (const auto &[k, v] : metadata)
    if (k == "general.alignment") {
      if (v.type != GGUFType::U32 || v.u == 0 || (v.u & (v.u - 1)) != 0) {
        *error = "general.alignment must be a u32 power of two";
        return false;
      }
      alignment = v.u;
    }
  std::vector<uint8_t> &o = *out;
  o.clear();
  o.insert(o.end(), kMagic, kMagic + 4);
  put<uint32_t>(o, 3);
  put<uint64_t>(o, tensors.size());
  put<uint64_t>(o, metadata.size());
  for (const auto &[k, v] : metadata) {
    putString(o, k);
    put<uint32_t>(o, uint32_t(v.type));
    if (!putValue(o, v, error)) {
      *error = "metadata '" + k + "': " + *error;
      return false;
    }
  }
  uint64_t offset = 0;
  for (const GGUFTensorData &t : tensors) {
    int64_t be, bb;
    if (!ggmlBlock(t.type, &be, &bb) || t.ne.empty() || t.ne[0] % be != 0) {
      *error = "tensor " + xfmr::io::quoted(t.name) + ": " + ggmlTypeName(t.type) + " cannot hold its shape";
      return false;
    }
    int64_t n = 1;
    for (int64_t d : t.ne)
      n *= d;
    if (uint64_t(n / be * bb) != t.bytes.size()) {
      *error = "tensor " + xfmr::io::quoted(t.name) + ": " + std::to_string(t.bytes.size()) + " bytes, its " +
               ggmlTypeName(t.type) + " shape needs " + std::to_string(n / be * bb);
      return false;
    }
    putString(o, t.name);
    put<uint32_t>(o, uint32_t(t.ne.size()));
    for (int64_t d : t.ne)
      put<int64_t>(o, d);
    put<uint32_t>(o, t.type);
    put<uint64_t>(o, offset);
    offset = (offset + t.bytes.size() + alignment - 1) / alignment * alignment;
  }
  o.resize((o.size() + alignment - 1) / alignment * alignment, 0);
  const size_t dataStart = o.size();
  offset = 0;
  for (const GGUFTensorData &t : tensors) {
    o.resize(dataStart + offset, 0);
    o.insert(o.end(), t.bytes.begin(), t.bytes.end());
    offset = (offset + t.bytes.size() + alignment - 1) / alignment * alignment;
  }
  return true;
}

bool xfmr::io::writeGGUF(const std::string &path,
                         const std::vector<std::pair<std::string, GGUFValue>> &metadata,
                         const std::vector<GGUFTensorData> &tensors, std::string *error) {
  std::vector<uint8_t> bytes;
  if (!encodeGGUF(metadata, tensors, &bytes, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return writeFileAtomic(path, bytes.data(), bytes.size(), error);
}

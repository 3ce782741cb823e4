#include "xfmr/import/safetensors.h"
#include "xfmr/io/files.h"

#include "xfmr/io/half.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <optional>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace xfmr::io;

int64_t TensorInfo::elements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}


SafeTensors::~SafeTensors() {
  if (map_ && ownsMap_)
    munmap(const_cast<uint8_t *>(map_), mapBytes_);
}

const TensorInfo *SafeTensors::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<float> SafeTensors::toF32(const TensorInfo &t) const {
  std::vector<float> out(size_t(t.elements()));
  const uint8_t *p = data_ + t.begin;
  // Ask for the whole tensor at once: converting it faults the mapping in
  // page by page, and with the file out of the page cache (a model just
  // copied in, or evicted) those faults' small reads made a 2.2 GB
  // checkpoint take 76 s to compile instead of 11.
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) / page * page;
  const size_t bytes = size_t(t.end - t.begin);
  const size_t span = size_t(reinterpret_cast<uintptr_t>(p) + bytes - first);
  if (bytes > 0)
    madvise(reinterpret_cast<void *>(first), span, MADV_WILLNEED);
  switch (t.dtype) {
  case DType::F32:
    if (!out.empty()) // memcpy of a null vector's data() is undefined
      std::memcpy(out.data(), p, out.size() * 4);
    break;
  case DType::F16:
    halfToFloat(p, out.data(), out.size());
    break;
  case DType::BF16:
    bf16ToFloat(p, out.data(), out.size());
    break;
  }
  return out;
}

std::unique_ptr<SafeTensors> SafeTensors::open(const std::string &path, std::string *error) {
  size_t size = 0;
  const uint8_t *map = mapRegularFile(path, 8, "no room for the 8-byte header length", &size, error);
  if (!map)
    return nullptr;
  auto st = parse(map, size, path, error);
  if (!st) {
    munmap(const_cast<uint8_t *>(map), size);
    return nullptr;
  }
  st->ownsMap_ = true;
  return st;
}

std::unique_ptr<SafeTensors> SafeTensors::parse(const uint8_t *bytes, size_t size,
                                                const std::string &path,
                                                std::string *error) {
  auto fail = [&](const std::string &why) {
    *error = path + ": " + why;
    return nullptr;
  };
  if (size < 8)
    return fail("truncated: " + std::to_string(size) +
                " bytes, no room for the 8-byte header length");
  std::unique_ptr<SafeTensors> st_(new SafeTensors());
  st_->path_ = path;
  st_->map_ = bytes;
  st_->mapBytes_ = size;

  uint64_t headerLen;
  std::memcpy(&headerLen, st_->map_, 8);
  if (headerLen > size - 8)
    return fail("header length " + std::to_string(headerLen) +
                " runs past the end of the file (" + std::to_string(size) +
                " bytes)");
  if (headerLen > kMaxHeaderBytes)
    return fail("header length " + std::to_string(headerLen) + " exceeds the " +
                std::to_string(kMaxHeaderBytes) + " bytes a header may have");
  st_->data_ = st_->map_ + 8 + headerLen;
  uint64_t dataBytes = size - 8 - headerLen;
  const char *h = reinterpret_cast<const char *>(st_->map_ + 8);
  if (!jsonDepthWithin(h, h + headerLen, kMaxJsonDepth))
    return fail("header JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                " levels");
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse(llvm::StringRef(h, size_t(headerLen)));
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return fail("header is not a JSON object");
  }
  const llvm::json::Object *header = parsed->getAsObject();
  if (!header)
    return fail("header is not a JSON object");

  // A dimension or offset: a non-negative integer (uint64 range).
  auto unsignedOf = [](const llvm::json::Value &v) -> std::optional<uint64_t> {
    if (std::optional<int64_t> i = v.getAsInteger())
      return *i >= 0 ? std::optional<uint64_t>(uint64_t(*i)) : std::nullopt;
    return v.getAsUINT64();
  };
  for (const auto &[key, desc] : *header) {
    std::string name = key.str();
    if (name == "__metadata__")
      continue;
    auto bad = [&](const std::string &why) {
      return fail("tensor '" + name + "': " + why);
    };
    const llvm::json::Object *d = desc.getAsObject();
    if (!d || !d->get("dtype") || !d->get("shape") || !d->get("data_offsets"))
      return bad("needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    std::optional<llvm::StringRef> dt = d->getString("dtype");
    if (!dt)
      return bad("dtype is not a string");
    size_t elemBytes;
    if (*dt == "F32") {
      t.dtype = DType::F32;
      elemBytes = 4;
    } else if (*dt == "F16") {
      t.dtype = DType::F16;
      elemBytes = 2;
    } else if (*dt == "BF16") {
      t.dtype = DType::BF16;
      elemBytes = 2;
    } else {
      return bad("unsupported dtype '" + dt->str() + "' (F32, F16, BF16 are)");
    }
    const llvm::json::Array *shape = d->getArray("shape");
    if (!shape || shape->size() > 8)
      return bad("shape is not an array of at most 8 dimensions");
    uint64_t elements = 1;
    for (const llvm::json::Value &dim : *shape) {
      std::optional<uint64_t> n = unsignedOf(dim);
      if (!n || *n > (1ull << 40))
        return bad("shape has a negative or huge dimension");
      t.shape.push_back(int64_t(*n));
      // Checked before it can wrap: [2^40, 2^40] must not multiply to 0.
      if (__builtin_mul_overflow(elements, *n, &elements) || elements > (1ull << 40))
        return bad("too many elements");
    }
    const llvm::json::Array *off = d->getArray("data_offsets");
    std::optional<uint64_t> b, e;
    if (off && off->size() == 2)
      b = unsignedOf((*off)[0]), e = unsignedOf((*off)[1]);
    if (!b || !e)
      return bad("data_offsets must be two non-negative integers");
    t.begin = *b;
    t.end = *e;
    if (t.begin > t.end || t.end > dataBytes)
      return bad("data_offsets [" + std::to_string(t.begin) + ", " +
                 std::to_string(t.end) + ") out of range of the " +
                 std::to_string(dataBytes) + "-byte data section");
    if (t.end - t.begin != elements * elemBytes)
      return bad("data_offsets span " + std::to_string(t.end - t.begin) +
                 " bytes but the shape needs " +
                 std::to_string(elements * elemBytes));
    st_->index_.emplace(t.name, st_->tensors_.size());
    st_->tensors_.push_back(std::move(t));
  }
  // No byte may belong to two tensors. Sorted by start, each tensor must
  // begin at or after the furthest end so far (not only the previous
  // tensor's: a zero-size tensor between two overlapping ones ends early).
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &t : st_->tensors_)
    if (t.end > t.begin)
      byOffset.push_back(&t);
  std::sort(byOffset.begin(), byOffset.end(),
            [](auto *a, auto *b) { return a->begin < b->begin; });
  const TensorInfo *furthest = nullptr;
  for (const TensorInfo *t : byOffset) {
    if (furthest && t->begin < furthest->end)
      return fail("tensor '" + t->name + "' overlaps tensor '" + furthest->name + "'");
    if (!furthest || t->end > furthest->end)
      furthest = t;
  }
  return st_;
}

bool xfmr::io::writeSafeTensors(const std::string &path,
                                const std::vector<TensorSpec> &tensors,
                                const TensorFill &fill, std::string *error,
                                DType dtype) {
  const size_t elemBytes = dtype == DType::F32 ? 4 : 2;
  const char *dtypeName = dtype == DType::F32   ? "F32"
                          : dtype == DType::F16 ? "F16"
                                                : "BF16";
  // Written in the order given (llvm::json::Object would sort the keys).
  std::string h;
  llvm::raw_string_ostream os(h);
  llvm::json::OStream j(os);
  uint64_t off = 0;
  j.object([&] {
    j.attributeObject("__metadata__", [&] { j.attribute("format", "pt"); });
    for (const TensorSpec &t : tensors) {
      uint64_t bytes = uint64_t(t.elements()) * elemBytes;
      j.attributeObject(t.name, [&] {
        j.attribute("dtype", dtypeName);
        j.attributeArray("shape", [&] {
          for (int64_t d : t.shape)
            j.value(d);
        });
        j.attributeArray("data_offsets", [&] {
          j.value(int64_t(off));
          j.value(int64_t(off + bytes));
        });
      });
      off += bytes;
    }
  });
  os.flush();
  while (h.size() % 8)
    h += ' ';
  std::string tmp = path + ".tmp";
  std::ofstream f(tmp, std::ios::binary);
  uint64_t n = h.size();
  f.write(reinterpret_cast<const char *>(&n), 8);
  f.write(h.data(), std::streamsize(h.size()));
  std::vector<float> data;
  std::vector<uint16_t> half;
  for (size_t i = 0; i < tensors.size() && f; ++i) {
    data.assign(size_t(tensors[i].elements()), 0.f);
    fill(i, data);
    if (dtype == DType::F32) {
      f.write(reinterpret_cast<const char *>(data.data()), std::streamsize(data.size() * 4));
      continue;
    }
    half.resize(data.size());
    for (size_t k = 0; k < half.size(); ++k)
      half[k] = dtype == DType::F16 ? floatToHalf(data[k]) : floatToBF16(data[k]);
    f.write(reinterpret_cast<const char *>(half.data()), std::streamsize(half.size() * 2));
  }
  f.close();
  if (!f) {
    *error = path + ": write failed";
    std::remove(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": rename failed";
    return false;
  }
  return true;
}

bool xfmr::io::writeSafeTensors(const std::string &path,
                                const std::vector<F32Tensor> &tensors,
                                std::string *error, DType dtype) {
  std::vector<TensorSpec> specs;
  for (const F32Tensor &t : tensors)
    specs.push_back({t.name, t.shape});
  return writeSafeTensors(
      path, specs, [&](size_t i, std::vector<float> &out) { out = tensors[i].data; },
      error, dtype);
}

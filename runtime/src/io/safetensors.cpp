#include "xfmr/io/safetensors.h"
#include "xfmr/io/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
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

float xfmr::io::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1F,
           mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float xfmr::io::bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t xfmr::io::floatToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7FFFFFFF) > 0x7F800000) // NaN stays NaN
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7FFF + ((bits >> 16) & 1); // round to nearest even
  return uint16_t(bits >> 16);
}

uint16_t xfmr::io::floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint32_t sign = (bits >> 16) & 0x8000;
  int32_t exp = int32_t((bits >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = bits & 0x7FFFFF;
  if (((bits >> 23) & 0xFF) == 0xFF) // inf or NaN
    return uint16_t(sign | 0x7C00 | (mant ? 0x200 : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7C00);
  if (exp <= 0) { // subnormal or zero
    if (exp < -10)
      return uint16_t(sign);
    mant |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1),
             mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1)))
      ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = sign | (uint32_t(exp) << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, which is still correct
  return uint16_t(half);
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
  switch (t.dtype) {
  case DType::F32:
    if (!out.empty()) // memcpy of a null vector's data() is undefined
      std::memcpy(out.data(), p, out.size() * 4);
    break;
  case DType::F16:
  case DType::BF16:
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = t.dtype == DType::F16 ? halfToFloat(h) : bf16ToFloat(h);
    }
    break;
  }
  return out;
}

std::unique_ptr<SafeTensors> SafeTensors::open(const std::string &path,
                                               std::string *error) {
  int64_t size = 0;
  int fd = openRegularFile(path, &size, error);
  if (fd < 0)
    return nullptr;
  if (size < 8) {
    ::close(fd);
    *error = path + ": truncated: " + std::to_string(size) +
             " bytes, no room for the 8-byte header length";
    return nullptr;
  }
  void *map = mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    *error = path + ": mmap failed";
    return nullptr;
  }
  auto st = parse(static_cast<const uint8_t *>(map), size_t(size), path, error);
  if (!st) {
    munmap(map, size_t(size));
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
  nlohmann::json header = nlohmann::json::parse(
      st_->map_ + 8, st_->map_ + 8 + headerLen, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return fail("header is not a JSON object");

  for (auto &[name, desc] : header.items()) {
    if (name == "__metadata__")
      continue;
    auto bad = [&](const std::string &why) {
      return fail("tensor '" + name + "': " + why);
    };
    if (!desc.is_object() || !desc.contains("dtype") || !desc.contains("shape") ||
        !desc.contains("data_offsets"))
      return bad("needs dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    const auto &dt = desc["dtype"];
    if (!dt.is_string())
      return bad("dtype is not a string");
    std::string d = dt.get<std::string>();
    size_t elemBytes;
    if (d == "F32") {
      t.dtype = DType::F32;
      elemBytes = 4;
    } else if (d == "F16") {
      t.dtype = DType::F16;
      elemBytes = 2;
    } else if (d == "BF16") {
      t.dtype = DType::BF16;
      elemBytes = 2;
    } else {
      return bad("unsupported dtype '" + d + "' (F32, F16, BF16 are)");
    }
    const auto &shape = desc["shape"];
    if (!shape.is_array() || shape.size() > 8)
      return bad("shape is not an array of at most 8 dimensions");
    uint64_t elements = 1;
    for (const auto &dim : shape) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (1ull << 40))
        return bad("shape has a negative or huge dimension");
      t.shape.push_back(int64_t(dim.get<uint64_t>()));
      // Checked before it can wrap: [2^40, 2^40] must not multiply to 0.
      if (__builtin_mul_overflow(elements, dim.get<uint64_t>(), &elements) ||
          elements > (1ull << 40))
        return bad("too many elements");
    }
    const auto &off = desc["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      return bad("data_offsets must be two non-negative integers");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
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
                                const std::vector<F32Tensor> &tensors,
                                std::string *error, DType dtype) {
  const size_t elemBytes = dtype == DType::F32 ? 4 : 2;
  const char *dtypeName = dtype == DType::F32   ? "F32"
                          : dtype == DType::F16 ? "F16"
                                                : "BF16";
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t off = 0;
  for (const F32Tensor &t : tensors) {
    uint64_t bytes = t.data.size() * elemBytes;
    header[t.name] = {{"dtype", dtypeName}, {"shape", t.shape},
                      {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string h = header.dump();
  while (h.size() % 8)
    h += ' ';
  std::string tmp = path + ".tmp";
  std::ofstream f(tmp, std::ios::binary);
  uint64_t n = h.size();
  f.write(reinterpret_cast<const char *>(&n), 8);
  f.write(h.data(), std::streamsize(h.size()));
  for (const F32Tensor &t : tensors) {
    if (dtype == DType::F32) {
      f.write(reinterpret_cast<const char *>(t.data.data()),
              std::streamsize(t.data.size() * 4));
      continue;
    }
    std::vector<uint16_t> h(t.data.size());
    for (size_t i = 0; i < h.size(); ++i)
      h[i] = dtype == DType::F16 ? floatToHalf(t.data[i]) : floatToBF16(t.data[i]);
    f.write(reinterpret_cast<const char *>(h.data()), std::streamsize(h.size() * 2));
  }
  f.close();
  if (!f) {
    *error = path + ": write failed";
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": rename failed";
    return false;
  }
  return true;
}

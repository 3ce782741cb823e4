// Reader of Hugging Face safetensors files, validated before use.
//
// The file is memory-mapped; open() checks the header length, the JSON, every
// tensor's dtype, shape and byte range (inside the file, matching the shape,
// no two tensors overlapping) and reports the first problem as one line
// naming the file and the tensor.
#ifndef XFMR_IMPORT_SAFETENSORS_H
#define XFMR_IMPORT_SAFETENSORS_H

#include "xfmr/io/half.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace xfmr::io {

enum class DType { F32, F16, BF16 };

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0; // byte range within the data section
  int64_t elements() const;
};

class SafeTensors {
public:
  /// Headers of real checkpoints are kilobytes to a few MB.
  static constexpr uint64_t kMaxHeaderBytes = 100 << 20;
  /// nullptr and *error set when the file is missing or malformed.
  static std::unique_ptr<SafeTensors> open(const std::string &path,
                                           std::string *error);
  /// The same checks on a file's bytes already in memory (`bytes` must
  /// outlive the result): for fuzzing and tests.
  static std::unique_ptr<SafeTensors> parse(const uint8_t *bytes, size_t size,
                                            const std::string &name, std::string *error);
  ~SafeTensors();
  const std::string &path() const { return path_; }
  const std::vector<TensorInfo> &tensors() const { return tensors_; }
  const TensorInfo *find(const std::string &name) const;
  /// Bytes of the data section (after the header).
  uint64_t dataBytes() const { return mapBytes_ - size_t(data_ - map_); }
  /// The tensor converted to f32, row-major.
  std::vector<float> toF32(const TensorInfo &t) const;

private:
  SafeTensors() = default;
  std::string path_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_; // name -> tensors_ index
  const uint8_t *map_ = nullptr;
  bool ownsMap_ = false; // open() maps the file; parse() borrows bytes
  size_t mapBytes_ = 0;
  const uint8_t *data_ = nullptr; // start of the data section
};

/// Writes tensors as a safetensors file (used for synthetic models), stored
/// as `dtype` (rounded to nearest even for F16 and BF16).
struct F32Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};
bool writeSafeTensors(const std::string &path,
                      const std::vector<F32Tensor> &tensors, std::string *error,
                      DType dtype = DType::F32);

/// The same, with each tensor's values made when it is written
/// (`fill(i, out)`: `out` is sized to tensor i, zeroed), so a model larger
/// than memory as f32 can be written.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
};
using TensorFill = std::function<void(size_t index, std::vector<float> &out)>;
bool writeSafeTensors(const std::string &path, const std::vector<TensorSpec> &tensors,
                      const TensorFill &fill, std::string *error,
                      DType dtype = DType::F32);

} // namespace xfmr::io

#endif

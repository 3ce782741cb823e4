//===- gguf_checkpoint.cpp - a GGUF file's tensors as a Checkpoint ---------===//
#include "xfmr/import/gguf_checkpoint.h"

#include "xfmr/import/ggml_blocks.h"
#include "xfmr/io/files.h"

#include <cstring>
#include <deque>

using namespace xfmr::io;

int64_t xfmr::io::hfRowOfGGUFRow(int64_t row, int64_t headDim) {
  // llama.cpp's converter: rows (head, two, half) -> (head, half, two).
  const int64_t head = row / headDim, r = row % headDim;
  return head * headDim + (r % 2) * (headDim / 2) + r / 2;
}

int64_t xfmr::io::ggufRowOfHFRow(int64_t row, int64_t headDim) {
  const int64_t head = row / headDim, x = row % headDim, half = headDim / 2;
  return head * headDim + (x < half ? 2 * x : 2 * (x - half) + 1);
}

namespace {
class GGUFCheckpoint : public Checkpoint {
public:
  struct Source {
    const GGUFTensorInfo *info;
    int64_t permuteHeadDim; // 0: rows as stored
  };
  static std::unique_ptr<Checkpoint> open(std::unique_ptr<GGUFFile> f, const GGUFNameMap &map,
                                          std::string *error) {
    std::unique_ptr<GGUFCheckpoint> k(new GGUFCheckpoint());
    k->describe_ = f->path();
    k->fileCount_ = 1;
    for (const GGUFTensorInfo &t : f->tensors()) {
      GGUFTensorMapping m = map(t);
      if (m.name.empty())
        continue; // not the family's (checkTensors finds what is missing)
      if (!ggmlTypeIsRead(t.type)) {
        *error = f->path() + ": tensor " + xfmr::io::quoted(t.name) + " is " +
                 ggmlTypeName(t.type) +
                 ", which xfmr does not read yet (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K are)";
        return nullptr;
      }
      k->sources_.push_back({&t, m.permuteHeadDim});
      std::vector<int64_t> shape(t.ne.rbegin(), t.ne.rend());
      k->tensors_.emplace(m.name, Tensor{shape, f->path(), &k->sources_.back()});
    }
    k->file_ = std::move(f);
    return k;
  }

  std::vector<float> toF32(const Tensor &t) const override {
    const Source &s = *static_cast<const Source *>(t.source);
    const GGUFTensorInfo &info = *s.info;
    std::vector<float> out =
        dequantizeGGML(file_->data(info), size_t(info.elements()), GGMLType(info.type));
    if (s.permuteHeadDim == 0)
      return out;
    const int64_t rows = info.ne.size() == 2 ? info.ne[1] : info.ne[0];
    const size_t cols = out.size() / size_t(rows);
    std::vector<float> hf(out.size());
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(hf.data() + size_t(hfRowOfGGUFRow(r, s.permuteHeadDim)) * cols,
                  out.data() + size_t(r) * cols, cols * 4);
    return hf;
  }
  std::optional<QuantScheme> storedScheme(const Tensor &t) const override {
    const GGUFTensorInfo &info = *static_cast<const Source *>(t.source)->info;
    if (info.ne.size() != 2)
      return std::nullopt;
    return ggmlStoredScheme(GGMLType(info.type));
  }
  bool storedGroup(const Tensor &t, int64_t row, int64_t g, QuantGroup &out) const override {
    const Source &s = *static_cast<const Source *>(t.source);
    const GGUFTensorInfo &info = *s.info;
    std::optional<QuantScheme> scheme = storedScheme(t);
    if (!scheme || row < 0 || row >= info.ne[1] || g < 0 || g >= info.ne[0] / scheme->group)
      return false;
    int64_t blockValues = 0, blockBytes = 0;
    ggmlBlock(info.type, &blockValues, &blockBytes);
    const int64_t fileRow = s.permuteHeadDim ? ggufRowOfHFRow(row, s.permuteHeadDim) : row;
    ggmlStoredGroup(file_->data(info) + fileRow * (info.ne[0] / blockValues) * blockBytes, g,
                    GGMLType(info.type), out);
    return true;
  }
  uint64_t dataBytes() const override { return file_->dataBytes(); }
  double minBytesPerValue() const override { return 18.0 / 32; } // Q4_0

private:
  std::unique_ptr<GGUFFile> file_;
  std::deque<Source> sources_; // stable addresses for the tensors' handles
};
} // namespace

std::unique_ptr<Checkpoint> xfmr::io::openGGUFCheckpoint(std::unique_ptr<GGUFFile> f,
                                                         const GGUFNameMap &map,
                                                         std::string *error) {
  return GGUFCheckpoint::open(std::move(f), map, error);
}

//===- gguf.h - llama.cpp's GGUF files, read and written --------*- C++ -*-===//
//
// A GGUF file (v2 and v3, little-endian) is a header, typed key-value
// metadata, tensor infos and an aligned data section:
//
//   "GGUF" u32 version  u64 tensor_count  u64 kv_count
//   kv_count x  { string key, u32 type, value }
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type,
//                    u64 offset (from the data section, aligned) }
//   padding to general.alignment (default 32), tensor data
//
// Strings are a u64 length and bytes; arrays a u32 element type, a u64
// count and the elements. ne[0] is the innermost (contiguous) dimension:
// a PyTorch [out, in] weight is ne = {in, out}.
//
// The file is untrusted: every count, length, offset and size is checked
// against the bytes that remain before anything is allocated or read, so a
// malformed or hostile file gets one line naming the file and the key or
// tensor (quoted: io::quoted) and the byte where it went wrong, never a crash or an allocation
// sized by the file.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_IMPORT_GGUF_H
#define XFMR_IMPORT_GGUF_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace xfmr::io {

/// Metadata value types, numbered as in the file.
enum class GGUFType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char *ggufTypeName(GGUFType t);

/// One metadata value. Integers of every width are held in `u` (unsigned
/// types, bool) or `i` (signed types), floats in `f`, strings in `s`, and
/// an array's elements (all of `elementType`) in `elements`.
struct GGUFValue {
  GGUFType type = GGUFType::U8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  GGUFType elementType = GGUFType::U8;
  std::vector<GGUFValue> elements;

  static GGUFValue unsignedInt(GGUFType t, uint64_t v);
  static GGUFValue signedInt(GGUFType t, int64_t v);
  static GGUFValue real(GGUFType t, double v);
  static GGUFValue boolean(bool v);
  static GGUFValue string(std::string v);
  static GGUFValue array(GGUFType elementType, std::vector<GGUFValue> v);
  static GGUFValue strings(const std::vector<std::string> &v);
};

/// ggml tensor types, numbered as in the file.
enum class GGMLType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
};
/// A ggml type's block: `elements` values stored in `bytes` bytes; false
/// for a type number without a known block layout.
bool ggmlBlock(uint32_t type, int64_t *elements, int64_t *bytes);
/// "Q4_K", or "type 42" for a number this reader does not know.
std::string ggmlTypeName(uint32_t type);

struct GGUFTensorInfo {
  std::string name;
  std::vector<int64_t> ne; // ne[0] innermost
  uint32_t type = 0;       // a GGMLType number
  uint64_t offset = 0;     // from the start of the data section
  uint64_t bytes = 0;      // what the type and shape occupy
  int64_t elements() const;
};

class GGUFFile {
public:
  /// Tensors beyond this, metadata entries beyond this, dimensions beyond
  /// ggml's 4 and arrays nested deeper than this are refused.
  static constexpr uint64_t kMaxTensors = 1 << 20, kMaxKeys = 1 << 20;
  static constexpr int kMaxDims = 4, kMaxArrayDepth = 4;

  /// Maps and checks `path`; nullptr with a one-line *error when it is not
  /// a well-formed GGUF file.
  static std::unique_ptr<GGUFFile> open(const std::string &path, std::string *error);
  /// The same checks on bytes in memory (`bytes` must outlive the result),
  /// named `name` in messages: for fuzzing and tests.
  static std::unique_ptr<GGUFFile> parse(const uint8_t *bytes, size_t size,
                                         const std::string &name, std::string *error);
  ~GGUFFile();
  GGUFFile(const GGUFFile &) = delete;
  GGUFFile &operator=(const GGUFFile &) = delete;

  const std::string &path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  /// Metadata in file order, and by key.
  const std::vector<std::pair<std::string, GGUFValue>> &metadata() const { return kv_; }
  const GGUFValue *find(const std::string &key) const;
  const std::vector<GGUFTensorInfo> &tensors() const { return tensors_; }
  const GGUFTensorInfo *findTensor(const std::string &name) const;
  /// The tensor's bytes (t.bytes of them, inside the file).
  const uint8_t *data(const GGUFTensorInfo &t) const { return data_ + t.offset; }
  uint64_t dataBytes() const { return size_ - uint64_t(data_ - bytes_); }

private:
  GGUFFile() = default;
  std::string path_;
  const uint8_t *bytes_ = nullptr;
  size_t size_ = 0;
  bool ownsMap_ = false;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::map<std::string, size_t> keyIndex_, tensorIndex_;
  std::vector<GGUFTensorInfo> tensors_;
  const uint8_t *data_ = nullptr;
};

/// A tensor to write: its dims (ne order), type and already-encoded bytes.
struct GGUFTensorData {
  std::string name;
  std::vector<int64_t> ne;
  uint32_t type = 0;
  std::vector<uint8_t> bytes;
};

/// Writes a GGUF v3 file (for tests and tools: random models as GGUF). An
/// entry "general.alignment" in `metadata` sets the alignment (u32, a power
/// of two); otherwise it is 32. Refuses a tensor whose bytes do not match
/// its type and shape.
bool writeGGUF(const std::string &path,
               const std::vector<std::pair<std::string, GGUFValue>> &metadata,
               const std::vector<GGUFTensorData> &tensors, std::string *error);

/// The same, into memory.
bool encodeGGUF(const std::vector<std::pair<std::string, GGUFValue>> &metadata,
                const std::vector<GGUFTensorData> &tensors, std::vector<uint8_t> *out,
                std::string *error);

} // namespace xfmr::io

#endif

//===- gguf_keys.h - typed, bounded reads of GGUF metadata ------*- C++ -*-===//
//
// What every family's GGUF config reader does with "<arch>.*" keys: an
// integer in bounds, a float in bounds, a string, each of the right GGUF
// type, the first failure kept as one line naming the file and the key.
// Internal to import/.
//
//===----------------------------------------------------------------------===//
#ifndef XFMR_IMPORT_GGUF_KEYS_H
#define XFMR_IMPORT_GGUF_KEYS_H

#include "xfmr/import/gguf.h"

#include <cstdint>
#include <string>

namespace xfmr::io {
/// Typed, bounded reads of "<arch>.*" keys, the first failure kept.
struct GGUFKeys {
  const GGUFFile &f;
  std::string arch, error;

  bool fail(const std::string &why) {
    if (error.empty())
      error = f.path() + ": " + why;
    return false;
  }
  /// An unsigned or non-negative integer key in [lo, hi].
  bool integer(const std::string &key, int64_t lo, int64_t hi, int64_t *out,
               bool required = true) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return required ? fail("metadata '" + key + "' is missing") : true;
    int64_t x;
    switch (v->type) {
    case GGUFType::U8: case GGUFType::U16: case GGUFType::U32: case GGUFType::U64:
      if (v->u > uint64_t(INT64_MAX))
        return fail("metadata '" + key + "' = " + std::to_string(v->u) + " is out of range");
      x = int64_t(v->u);
      break;
    case GGUFType::I8: case GGUFType::I16: case GGUFType::I32: case GGUFType::I64:
      x = v->i;
      break;
    default:
      return fail("metadata '" + key + "' must be an integer, not a " + ggufTypeName(v->type));
    }
    if (x < lo || x > hi)
      return fail("metadata '" + key + "' = " + std::to_string(x) + " is outside [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = x;
    return true;
  }
  bool number(const std::string &key, double lo, double hi, double *out,
              bool required = false) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return required ? fail("metadata '" + key + "' is missing") : true;
    if (v->type != GGUFType::F32 && v->type != GGUFType::F64)
      return fail("metadata '" + key + "' must be a float, not a " + ggufTypeName(v->type));
    if (!(v->f >= lo && v->f <= hi))
      return fail("metadata '" + key + "' = " + std::to_string(v->f) + " is outside [" +
                  std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = v->f;
    return true;
  }
  bool string(const std::string &key, std::string *out) {
    const GGUFValue *v = f.find(key);
    if (!v)
      return true;
    if (v->type != GGUFType::String)
      return fail("metadata '" + key + "' must be a string, not a " + ggufTypeName(v->type));
    *out = v->s;
    return true;
  }
};
/// The vocabulary size: the token list's length, or token_embd.weight's
/// rows, which must agree when both exist; false with *error when there is
/// neither (or more than `maxVocab`).
inline bool ggufVocabulary(const GGUFFile &f, int64_t maxVocab, int64_t *vocab,
                           std::string *error) {
  *vocab = 0;
  if (const GGUFValue *t = f.find("tokenizer.ggml.tokens"))
    *vocab = int64_t(t->elements.size());
  if (const GGUFTensorInfo *e = f.findTensor("token_embd.weight"); e && e->ne.size() == 2) {
    if (*vocab != 0 && *vocab != e->ne[1]) {
      *error = f.path() + ": tokenizer.ggml.tokens has " + std::to_string(*vocab) +
               " tokens but token_embd.weight has " + std::to_string(e->ne[1]) + " rows";
      return false;
    }
    *vocab = e->ne[1];
  }
  if (*vocab <= 0 || *vocab > maxVocab) {
    *error = f.path() + ": no vocabulary of 1 to " + std::to_string(maxVocab) +
             " tokens (neither tokenizer.ggml.tokens nor token_embd.weight)";
    return false;
  }
  return true;
}

} // namespace xfmr::io

#endif

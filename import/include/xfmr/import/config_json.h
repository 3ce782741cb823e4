// config.json of a Hugging Face model, read as untrusted input: a size limit,
// the nesting depth checked before parsing, and typed getters that bound
// every number before anything is sized from it. Each getter reports the
// first problem as one line naming the file and the field, and returns
// false; later getters then do nothing, so a family's schema reads as a
// plain list of fields.
#ifndef XFMR_IMPORT_CONFIG_JSON_H
#define XFMR_IMPORT_CONFIG_JSON_H

#include "llvm/Support/JSON.h"

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

namespace xfmr::io {

class ConfigJson {
public:
  /// Real config.json files are a few kilobytes.
  static constexpr int64_t kMaxBytes = 1 << 20;
  /// Reads and parses `path`; nullptr and a one-line *error on failure.
  static std::unique_ptr<ConfigJson> read(const std::string &path, std::string *error);
  /// The same on text already in memory (fuzzing, tests).
  static std::unique_ptr<ConfigJson> parse(const std::string &text, const std::string &path,
                                           std::string *error);

  /// Each getter: false (and error() set) if the field is present but not
  /// what is asked, or missing and `required`; a missing optional field
  /// leaves *out unchanged. Keys are tried in order (aliases, as GPT-2's
  /// `n_layer` / `num_hidden_layers`); the first present one is read.
  bool integer(std::initializer_list<const char *> keys, int64_t min, int64_t max,
               int64_t *out, bool required = true);
  /// An integer, or a non-empty list of them of which the first is taken
  /// (optional).
  bool firstInteger(const char *key, int64_t min, int64_t max, int64_t *out);
  /// A number in the open interval (above, below).
  bool number(const char *key, double above, double below, double *out,
              bool required = false);
  bool boolean(const char *key, bool *out);
  bool string(const char *key, std::string *out, bool required = false);
  /// Whether the key is present and not null.
  bool has(const char *key) const;
  /// Whether the key is present with the value null.
  bool isNull(const char *key) const;
  /// A nested object as its own reader ("rope_scaling": fields are named
  /// "rope_scaling.factor" in errors); nullptr when absent or null, and an
  /// error when present but not an object.
  std::unique_ptr<ConfigJson> object(const char *key);

  /// Records a problem the schema found (a contradiction between fields):
  /// "<path>: <what>". Returns false.
  bool fail(const std::string &what);
  bool ok() const { return error_.empty(); }
  const std::string &error() const { return error_; }
  const std::string &path() const { return path_; }

private:
  ConfigJson(llvm::json::Value root, const llvm::json::Object *object, std::string path,
             std::string prefix);
  const llvm::json::Value *find(const char *key) const;
  bool failField(const char *key, const std::string &what);

  std::shared_ptr<llvm::json::Value> root_; // owns what object_ points into
  const llvm::json::Object *object_;
  std::string path_, prefix_, error_;
  ConfigJson *parent_ = nullptr; // a nested reader reports to its parent
};

} // namespace xfmr::io

#endif

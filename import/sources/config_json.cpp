// config.json as untrusted input (config_json.h).
#include "xfmr/import/config_json.h"
#include "xfmr/io/files.h"

#include "llvm/Support/Error.h"


using namespace xfmr::io;

namespace {
/// 1e-05, 10000, 1e+12: what a person would write.
std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
} // namespace

ConfigJson::ConfigJson(llvm::json::Value root, const llvm::json::Object *object,
                       std::string path, std::string prefix)
    : root_(std::make_shared<llvm::json::Value>(std::move(root))), object_(object),
      path_(std::move(path)), prefix_(std::move(prefix)) {
  if (!object_)
    object_ = root_->getAsObject();
}

std::unique_ptr<ConfigJson> ConfigJson::read(const std::string &path, std::string *error) {
  std::string text;
  if (!readRegularFile(path, kMaxBytes, &text, error))
    return nullptr;
  return parse(text, path, error);
}

std::unique_ptr<ConfigJson> ConfigJson::parse(const std::string &text,
                                              const std::string &path,
                                              std::string *error) {
  if (!jsonDepthWithin(text.data(), text.data() + text.size(), kMaxJsonDepth)) {
    *error = path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
    return nullptr;
  }
  llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
  if (!v) {
    *error = path + ": not valid JSON: " + llvm::toString(v.takeError());
    return nullptr;
  }
  if (!v->getAsObject()) {
    *error = path + ": not a JSON object";
    return nullptr;
  }
  return std::unique_ptr<ConfigJson>(new ConfigJson(std::move(*v), nullptr, path, ""));
}

const llvm::json::Value *ConfigJson::find(const char *key) const {
  const llvm::json::Value *v = object_->get(key);
  return v && v->kind() != llvm::json::Value::Null ? v : nullptr;
}

bool ConfigJson::has(const char *key) const { return find(key) != nullptr; }

bool ConfigJson::isNull(const char *key) const {
  const llvm::json::Value *v = object_->get(key);
  return v && v->kind() == llvm::json::Value::Null;
}

bool ConfigJson::fail(const std::string &what) {
  ConfigJson *top = this;
  while (top->parent_)
    top = top->parent_;
  if (top->error_.empty())
    top->error_ = path_ + ": " + what;
  error_ = top->error_;
  return false;
}

bool ConfigJson::failField(const char *key, const std::string &what) {
  return fail("'" + prefix_ + key + "' " + what);
}

bool ConfigJson::integer(std::initializer_list<const char *> keys, int64_t min, int64_t max,
                         int64_t *out, bool required) {
  if (!ok())
    return false;
  for (const char *key : keys) {
    const llvm::json::Value *v = find(key);
    if (!v)
      continue;
    std::optional<int64_t> i = v->getAsInteger(); // 12.0 reads as 12; 12.5 does not
    if (!i || *i < min || *i > max)
      return failField(key, "must be an integer from " + std::to_string(min) + " to " +
                                std::to_string(max));
    *out = *i;
    return true;
  }
  if (!required)
    return true;
  return failField(*keys.begin(), "is missing");
}

bool ConfigJson::firstInteger(const char *key, int64_t min, int64_t max, int64_t *out) {
  if (!ok())
    return false;
  const llvm::json::Value *v = find(key);
  if (!v)
    return true;
  if (const llvm::json::Array *a = v->getAsArray())
    v = a->empty() ? nullptr : &(*a)[0];
  std::optional<int64_t> i = v ? v->getAsInteger() : std::nullopt;
  if (!i || *i < min || *i > max)
    return failField(key, "must be an integer from " + std::to_string(min) + " to " +
                              std::to_string(max) + ", or a list of them");
  *out = *i;
  return true;
}

bool ConfigJson::number(const char *key, double above, double below, double *out,
                        bool required) {
  if (!ok())
    return false;
  const llvm::json::Value *v = find(key);
  if (!v)
    return required ? failField(key, "is missing") : true;
  std::optional<double> d = v->getAsNumber();
  if (!d || !(*d > above && *d < below))
    return failField(key, "must be a number in (" + shortest(above) + ", " +
                              shortest(below) + ")");
  *out = *d;
  return true;
}

bool ConfigJson::boolean(const char *key, bool *out) {
  if (!ok())
    return false;
  const llvm::json::Value *v = find(key);
  if (!v)
    return true;
  std::optional<bool> b = v->getAsBoolean();
  if (!b)
    return failField(key, "must be true or false");
  *out = *b;
  return true;
}

bool ConfigJson::string(const char *key, std::string *out, bool required) {
  if (!ok())
    return false;
  const llvm::json::Value *v = find(key);
  if (!v)
    return required ? failField(key, "is missing") : true;
  std::optional<llvm::StringRef> s = v->getAsString();
  if (!s)
    return failField(key, "must be a string");
  *out = s->str();
  return true;
}

std::unique_ptr<ConfigJson> ConfigJson::object(const char *key) {
  if (!ok())
    return nullptr;
  const llvm::json::Value *v = find(key);
  if (!v)
    return nullptr;
  const llvm::json::Object *o = v->getAsObject();
  if (!o) {
    failField(key, "must be an object");
    return nullptr;
  }
  std::unique_ptr<ConfigJson> sub(new ConfigJson(llvm::json::Value(nullptr), o, path_,
                                                 prefix_ + key + "."));
  sub->root_ = root_; // o points into this reader's document
  sub->parent_ = this;
  return sub;
}

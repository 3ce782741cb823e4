// Model directories by family (model_dir.h).
#include "xfmr/import/model_dir.h"
#include "xfmr/import/gguf.h"
#include "xfmr/io/files.h"
#include "xfmr/import/gpt2.h"
#include "xfmr/import/llama.h"

#include <sys/stat.h>

using namespace xfmr::io;

namespace {
using Opener = std::unique_ptr<ModelDir> (*)(const std::string &, ConfigJson &,
                                             std::string *);
/// model_type -> family. A config without model_type is GPT-2's (the
/// original OpenAI checkpoints' converted configs lack it).
struct FamilyEntry {
  const char *modelType;
  Opener open;
};
constexpr FamilyEntry kFamilies[] = {
    {"gpt2", &GPT2Model::open},
    {"llama", &LlamaModel::open},
    {"mistral", &LlamaModel::open},
    {"qwen2", &LlamaModel::open},
};
} // namespace

std::string xfmr::io::shapeString(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

std::string ModelDir::knownModelTypes() {
  std::string r;
  for (const FamilyEntry &f : kFamilies)
    r += (r.empty() ? "" : ", ") + std::string(f.modelType);
  return r;
}

std::unique_ptr<ModelDir> ModelDir::open(const std::string &dir, std::string *error) {
  struct stat st;
  if (stat(dir.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    // A file: GGUF, the family by general.architecture.
    std::unique_ptr<GGUFFile> f = GGUFFile::open(dir, error);
    if (!f)
      return nullptr;
    const GGUFValue *arch = f->find("general.architecture");
    std::string a = arch && arch->type == GGUFType::String ? arch->s : "";
    if (a == "llama" || a == "qwen2")
      return LlamaModel::openGGUF(std::move(f), error);
    if (a == "gpt2")
      return GPT2Model::openGGUF(std::move(f), error);
    *error = dir + ": general.architecture " + xfmr::io::quoted(a) + " is not supported from GGUF (gpt2, llama, qwen2 are)";
    return nullptr;
  }
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = dir + ": not a model directory or GGUF file";
    return nullptr;
  }
  std::unique_ptr<ConfigJson> config = ConfigJson::read(dir + "/config.json", error);
  if (!config)
    return nullptr;
  std::string type = "gpt2";
  if (!config->string("model_type", &type)) {
    *error = config->error();
    return nullptr;
  }
  for (const FamilyEntry &f : kFamilies)
    if (type == f.modelType)
      return f.open(dir, *config, error);
  *error = config->path() + ": model_type '" + type + "' is not supported (" +
           knownModelTypes() + " are)";
  return nullptr;
}

bool ModelDir::checkTensors(const TensorList &expected, std::string *error) const {
  auto check = [&](const std::string &canonical, const std::vector<int64_t> &shape) {
    std::string name = fileName(canonical);
    const Checkpoint::Tensor *t = checkpoint_->find(name);
    if (!t) {
      *error = checkpoint_->describe() + ": tensor '" + name + "' is missing";
      return false;
    }
    if (t->shape != shape) {
      *error = t->path + ": tensor '" + name + "' has shape " +
               shapeString(t->shape) + " but config.json implies " +
               shapeString(shape);
      return false;
    }
    return true;
  };
  if (expected.empty() || !check(expected[0].first, expected[0].second))
    return false;
  // The size config.json declares must fit in the files before anything is
  // built from it: a config of 1000 layers over a one-layer file must not
  // make the compiler build 1000 layers.
  __int128 values = 0;
  for (const auto &[name, shape] : expected) {
    __int128 n = 1;
    for (int64_t d : shape)
      n *= d; // each dimension < 2^24 and rank <= 2: no overflow
    values += n;
  }
  const double perValue = checkpoint_->minBytesPerValue();
  if (double(values) * perValue > double(checkpoint_->dataBytes())) {
    *error = checkpoint_->describe() + ": " +
             (configPath_ == checkpoint_->describe() ? std::string("the metadata")
                                                     : std::string("config.json")) +
             " declares " +
             std::to_string(int64_t(values)) + " weights, more than the file's " +
             std::to_string(checkpoint_->dataBytes()) + " data bytes hold";
    return false;
  }
  for (size_t i = 1; i < expected.size(); ++i)
    if (!check(expected[i].first, expected[i].second))
      return false;
  return true;
}

std::vector<float> ModelDir::load(const std::string &canonical) const {
  return checkpoint_->toF32(*checkpoint_->find(fileName(canonical)));
}

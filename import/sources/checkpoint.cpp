// Single-file and sharded safetensors checkpoints (checkpoint.h).
#include "xfmr/import/checkpoint.h"
#include "xfmr/io/files.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <map>
#include <sys/stat.h>

using namespace xfmr::io;

namespace {
bool exists(const std::string &path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

/// A shard's name must be a plain file name in the model directory: the
/// index is untrusted and must not reach "../../etc/passwd".
bool plainFileName(llvm::StringRef name) {
  return !name.empty() && name != "." && name != ".." && !name.contains('/') &&
         !name.contains('\0') && name.ends_with(".safetensors");
}

/// Safetensors files; a tensor's handle is its TensorInfo, and `fileOf`
/// says which file holds it.
class SafeTensorsCheckpoint : public Checkpoint {
public:
  void add(const SafeTensors *file, const TensorInfo &t) {
    fileOf_[&t] = file;
    tensors_.emplace(t.name, Tensor{t.shape, file->path(), &t});
  }
  void keep(std::unique_ptr<SafeTensors> f) {
    files_.push_back(std::move(f));
    fileCount_ = files_.size();
  }
  void setDescribe(const std::string &d) { describe_ = d; }
  std::vector<float> toF32(const Tensor &t) const override {
    auto *info = static_cast<const TensorInfo *>(t.source);
    return fileOf_.at(info)->toF32(*info);
  }
  uint64_t dataBytes() const override {
    uint64_t n = 0;
    for (const auto &f : files_)
      n += f->dataBytes();
    return n;
  }

private:
  std::vector<std::unique_ptr<SafeTensors>> files_;
  std::unordered_map<const TensorInfo *, const SafeTensors *> fileOf_;
};
} // namespace

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string &dir, std::string *error) {
  auto c = std::make_unique<SafeTensorsCheckpoint>();
  std::string indexPath = dir + "/model.safetensors.index.json";
  if (!exists(indexPath)) {
    std::string path = dir + "/model.safetensors";
    auto st = SafeTensors::open(path, error);
    if (!st)
      return nullptr;
    c->setDescribe(path);
    for (const TensorInfo &t : st->tensors())
      c->add(st.get(), t);
    c->keep(std::move(st));
    return c;
  }
  c->setDescribe(indexPath);
  auto fail = [&](const std::string &why) {
    *error = indexPath + ": " + why;
    return nullptr;
  };
  std::string text;
  if (!readRegularFile(indexPath, kMaxIndexBytes, &text, error))
    return nullptr;
  if (!jsonDepthWithin(text.data(), text.data() + text.size(), kMaxJsonDepth))
    return fail("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  llvm::Expected<llvm::json::Value> root = llvm::json::parse(text);
  if (!root) {
    llvm::consumeError(root.takeError());
    return fail("not valid JSON");
  }
  const llvm::json::Object *map =
      root->getAsObject() ? root->getAsObject()->getObject("weight_map") : nullptr;
  if (!map)
    return fail("needs an object 'weight_map' of tensor name -> shard file");
  // Shards in name order, so errors and dataBytes do not depend on hashing.
  std::map<std::string, std::vector<std::string>> byShard;
  for (const auto &[tensor, shard] : *map) {
    std::optional<llvm::StringRef> s = shard.getAsString();
    if (!s || !plainFileName(*s))
      return fail("weight_map['" + tensor.str() +
                  "'] must name a .safetensors file in the model directory");
    byShard[s->str()].push_back(tensor.str());
  }
  if (byShard.empty())
    return fail("weight_map is empty");
  if (byShard.size() > kMaxShards)
    return fail("more than " + std::to_string(kMaxShards) + " shards");
  for (auto &[shard, names] : byShard) {
    std::string path = dir + "/" + shard;
    if (!exists(path))
      return fail("shard '" + shard + "' (holding '" + names.front() + "') is missing");
    auto st = SafeTensors::open(path, error);
    if (!st)
      return nullptr;
    for (const std::string &n : names) {
      const TensorInfo *t = st->find(n);
      if (!t)
        return fail("lists tensor '" + n + "' in '" + shard + "', which does not hold it");
      c->add(st.get(), *t);
    }
    // A tensor the index does not list is ignored, as by transformers: the
    // index names exactly one shard per tensor, so none is read twice.
    c->keep(std::move(st));
  }
  return c;
}

const Checkpoint::Tensor *Checkpoint::find(const std::string &name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

int64_t Checkpoint::values() const {
  int64_t n = 0;
  for (const auto &[name, t] : tensors_) {
    int64_t e = 1;
    for (int64_t d : t.shape)
      e *= d;
    n += e;
  }
  return n;
}

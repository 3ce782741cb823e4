//===- gguf_model_writer.cpp - what every family's GGUF writer shares -----===//
#include "xfmr/import/gguf_model_writer.h"

#include "xfmr/import/ggml_blocks.h"
#include "xfmr/import/model_dir.h"
#include "xfmr/io/files.h"

#include <cctype>
#include <unistd.h>

using namespace xfmr::io;

std::vector<GGMLType> xfmr::io::ggmlWrittenTypes() {
  // Asked of encodeGGML on one block of every type with a known layout:
  // there is no other list to keep in step with it.
  std::vector<GGMLType> types;
  std::vector<uint8_t> bytes;
  for (uint32_t t = 0; t < 64; ++t) {
    int64_t elements = 0, blockBytes = 0;
    if (!ggmlBlock(t, &elements, &blockBytes) || elements <= 0 || elements > 4096)
      continue;
    if (encodeGGML(std::vector<float>(size_t(elements), 0.f), GGMLType(t), &bytes) &&
        int64_t(bytes.size()) == blockBytes)
      types.push_back(GGMLType(t));
  }
  return types;
}

namespace {
std::string lower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
} // namespace

std::string xfmr::io::ggmlWrittenTypeNames() {
  std::string r;
  for (GGMLType t : ggmlWrittenTypes())
    r += (r.empty() ? "" : ", ") + lower(ggmlTypeName(uint32_t(t)));
  return r;
}

std::optional<GGMLType> xfmr::io::ggmlWrittenType(const std::string &name) {
  for (GGMLType t : ggmlWrittenTypes())
    if (lower(ggmlTypeName(uint32_t(t))) == name)
      return t;
  return std::nullopt;
}

bool xfmr::io::ggufTensorOf(const std::string &name, const std::vector<int64_t> &shape,
                            const std::vector<float> &x, GGMLType type, GGUFTensorData *out,
                            std::string *error) {
  // Vectors (norms, biases) stay F32, as llama.cpp keeps them.
  const GGMLType t = shape.size() == 1 ? GGMLType::F32 : type;
  int64_t elements = 0, blockBytes = 0;
  if (!ggmlBlock(uint32_t(t), &elements, &blockBytes) || shape.empty() ||
      shape.back() % elements != 0) {
    *error = "tensor '" + name + "': a row of " +
             std::to_string(shape.empty() ? 0 : shape.back()) + " values is not whole " +
             ggmlTypeName(uint32_t(t)) + " blocks of " + std::to_string(elements);
    return false;
  }
  out->name = name;
  out->ne.assign(shape.rbegin(), shape.rend());
  out->type = uint32_t(t);
  if (!encodeGGML(x, t, &out->bytes)) {
    *error = "tensor '" + name + "': " + ggmlTypeName(uint32_t(t)) +
             " is not a type xfmr writes (" + ggmlWrittenTypeNames() + " are)";
    return false;
  }
  return true;
}

bool xfmr::io::ggufTokenizerOf(const ModelDir &m, int64_t vocab, GGUFTokenizerMetadata *out,
                               std::string *error) {
  std::string json, config;
  for (const auto &[name, text] : m.tokenizerFiles())
    (name == "tokenizer.json" ? json : config) = text;
  if (!m.tokenizerFiles().empty())
    return ggufTokenizerFromHF(json, config, m.dir(), vocab, out, error);
  auto present = [&](const char *file) {
    return ::access((m.dir() + "/" + file).c_str(), F_OK) == 0;
  };
  auto read = [&](const char *file, std::string *text) {
    return readRegularFile(m.dir() + "/" + file, kMaxTokenizerFileBytes, text, error);
  };
  if (present("tokenizer_config.json") && !read("tokenizer_config.json", &config))
    return false;
  // tokenizer.json first, as the runtime loads it.
  if (present("tokenizer.json"))
    return read("tokenizer.json", &json) &&
           ggufTokenizerFromHF(json, config, m.dir(), vocab, out, error);
  if (present("vocab.json") && present("merges.txt")) {
    std::string vocabJson, merges;
    return read("vocab.json", &vocabJson) && read("merges.txt", &merges) &&
           ggufTokenizerFromGPT2Files(vocabJson, merges, config, m.dir(), vocab, out, error);
  }
  return true;
}

void xfmr::io::appendSpecialTokenIds(const GGUFTokenizerMetadata &tok, int64_t configBos,
                                     int64_t configEos, int64_t vocab,
                                     std::vector<std::pair<std::string, GGUFValue>> *kv) {
  const int64_t bos = tok.bos >= 0 ? tok.bos : configBos;
  const int64_t eos = tok.eos >= 0 ? tok.eos : configEos;
  auto u32 = [](int64_t v) { return GGUFValue::unsignedInt(GGUFType::U32, uint64_t(v)); };
  if (bos >= 0 && bos < vocab)
    kv->push_back({"tokenizer.ggml.bos_token_id", u32(bos)});
  if (eos >= 0 && eos < vocab)
    kv->push_back({"tokenizer.ggml.eos_token_id", u32(eos)});
}

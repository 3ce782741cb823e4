// The two file formats a tokenizer comes in, each read into the one
// xfmr_tokenizer. Both may throw std::bad_alloc (the C API's entry points
// in tokenizer.cpp catch it); bad files give false with a one-line *error.
#ifndef XFMR_RUNTIME_TOKENIZER_LOADERS_H
#define XFMR_RUNTIME_TOKENIZER_LOADERS_H

#include "tokenizer.h"

#include <string>

namespace xfmr::tok {

/// GPT-2's vocab.json + merges.txt (gpt2_files.cpp).
bool loadGpt2Files(const std::string &vocabJson, const std::string &mergesTxt,
                   const std::string &name, xfmr_tokenizer &t, std::string *error);

/// tokenizer.json and, when `haveConfig`, tokenizer_config.json (hf_json.cpp).
bool loadHfFiles(const std::string &tokenizerJson, const std::string &configJson,
                 bool haveConfig, const std::string &name, xfmr_tokenizer &t,
                 std::string *error);

} // namespace xfmr::tok

#endif

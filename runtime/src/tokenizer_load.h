// Internal (C++, not C API) entry points of the tokenizer loaders, for the
// tests and the fuzz targets. xfmr_tokenizer_load is
// loadTokenizerFromDir(dir, kMaxTokenizerFileBytes, ...), which reads the
// files and hands their text to loadHfTokenizerFromText (tokenizer.json) or
// loadTokenizerFromText (GPT-2's vocab.json + merges.txt). The code is in
// runtime/src/tokenizer/.
#ifndef XFMR_RUNTIME_TOKENIZER_LOAD_H
#define XFMR_RUNTIME_TOKENIZER_LOAD_H

#include "xfmr/io/files.h"
#include "xfmr/runtime.h"

#include <cstdint>
#include <string>

// The most bytes each tokenizer file may have: kMaxTokenizerFileBytes
// (xfmr/io/files.h), shared with the compiler's copy of them.
using xfmr::io::kMaxTokenizerFileBytes;

/// Builds a tokenizer from the text of vocab.json and merges.txt. What the
/// files must satisfy, beyond being well formed:
///  - vocab.json: an object of token -> id, nested at most
///    xfmr::io::kMaxJsonDepth deep, each token once, the ids exactly
///    0..N-1 for N >= 1 tokens (so the id table is no larger than the file);
///  - merges.txt: lines "A B" (exactly two non-empty parts, one space; a
///    trailing CR is dropped; empty and "#version" lines are skipped) where A,
///    B and AB are all tokens of vocab.json, as in GPT-2's files (Hugging
///    Face's BPE refuses such a merge too). A merge that could never yield a
///    token would only make tokenize() drop text silently.
/// On failure returns NULL and sets *error (when non-null) to one line that
/// names "<nameForErrors>/vocab.json" or "<nameForErrors>/merges.txt:LINE".
/// Never throws.
xfmr_tokenizer *loadTokenizerFromText(const std::string &vocabJson,
                                      const std::string &mergesTxt,
                                      const std::string &nameForErrors,
                                      std::string *error);

/// Builds a tokenizer from the text of tokenizer.json and, when configJson
/// is not null, tokenizer_config.json (docs/runtime.md lists what they may
/// hold). On failure returns NULL and sets *error (when non-null) to one
/// line that names "<nameForErrors>/tokenizer.json" (or
/// tokenizer_config.json) and the field. Never throws.
xfmr_tokenizer *loadHfTokenizerFromText(const std::string &tokenizerJson,
                                        const std::string *configJson,
                                        const std::string &nameForErrors,
                                        std::string *error);

/// Reads dir/tokenizer.json (+ dir/tokenizer_config.json when there) if
/// dir has it, else dir/vocab.json and dir/merges.txt, each a regular file
/// of at most maxFileBytes (a directory, FIFO or device is refused without
/// waiting on it), and hands their text to the loader above. Never throws.
xfmr_tokenizer *loadTokenizerFromDir(const std::string &dir, int64_t maxFileBytes,
                                     std::string *error);

#endif

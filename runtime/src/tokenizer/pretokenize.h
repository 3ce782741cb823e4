// Pre-tokenization: how a text is cut into the words BPE sees.
//
// Hugging Face's tokenizer.json names a regex (pre_tokenizer Split, or the
// one ByteLevel builds in); std::regex has no \p{..} classes, so each regex
// family that real files use has a hand-written matcher here, over code
// points classified by the generated Unicode tables. Any other regex is
// refused at load, never approximated.
#ifndef XFMR_RUNTIME_TOKENIZER_PRETOKENIZE_H
#define XFMR_RUNTIME_TOKENIZER_PRETOKENIZE_H

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace xfmr::tok {

using WordSink = std::function<void(std::string_view)>;

/// The regex families.
enum class Pattern {
  /// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  Gpt2,
  /// Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  ///          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3,
  /// Qwen2 / Qwen3: Llama 3's with \p{N} (one digit per word) for \p{N}{1,3}.
  Qwen2,
};

/// The family whose regex is exactly `regex` (as tokenizer.json writes
/// it); false when it is none of them.
bool patternOf(std::string_view regex, Pattern *pattern);

/// Calls emit for each match of the pattern in s, in order. The matches
/// cover s (every code point is a letter, a number, white space or none of
/// these, and each class has an alternative), so Split's "Isolated" pieces
/// are exactly the matches. Linear in s: each alternative looks at most one
/// run of one class beyond its match.
void splitByPattern(Pattern pattern, std::string_view s, const WordSink &emit);

/// One step of a pre-tokenizer.
struct PreTokenizeStep {
  enum Kind {
    Split,     // the matches of `pattern`
    ByteLevel, // an optional leading space, the GPT-2 pattern when useRegex
    Metaspace, // spaces become `replacement`, which may be prepended; split before each
  } kind = Split;
  Pattern pattern = Pattern::Gpt2;
  bool addPrefixSpace = false; // ByteLevel
  bool useRegex = false;       // ByteLevel
  std::string replacement;     // Metaspace (UTF-8 of one code point)
  enum Prepend { Always, First, Never } prepend = Always; // Metaspace
  bool splitWords = false;     // Metaspace: a word starts at each replacement
};

/// Runs the steps over one section of text (a run between added tokens);
/// `first` says whether it starts the input (Metaspace's "first" scheme).
void preTokenize(const std::vector<PreTokenizeStep> &steps, std::string_view section,
                 bool first, const WordSink &emit);

} // namespace xfmr::tok

#endif

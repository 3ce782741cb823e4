// Added tokens (tokenizer.json's added_tokens: special tokens such as <s>
// and <|begin_of_text|>, and a vocabulary's extra words): found in the
// input before anything else runs, leftmost and longest first, as Hugging
// Face does, so the text between them is normalized and pre-tokenized on
// its own and a token's text never reaches BPE.
#ifndef XFMR_RUNTIME_TOKENIZER_ADDED_TOKENS_H
#define XFMR_RUNTIME_TOKENIZER_ADDED_TOKENS_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xfmr::tok {

/// The longest an added token's content may be: the matcher's cost per
/// input byte is bounded by it (real ones are under 40 bytes).
constexpr size_t kMaxAddedTokenBytes = 1024;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;    // a control token: skipped by decoding on request, text on request
  bool lstrip = false;     // takes the white space before it
  bool rstrip = false;     // takes the white space after it
  bool normalized = false; // matched in the normalized text rather than the input
};

/// A run of the input: text (id < 0) or an added token.
struct Section {
  std::string_view text;
  int32_t id;
};

class AddedTokenMatcher {
public:
  /// Adds a token of at most kMaxAddedTokenBytes, non-empty, not added before.
  void add(const AddedToken &token);
  bool empty() const { return tokens_.empty(); }

  /// Cuts s into sections at the tokens (those with special set are not
  /// matched when specialsAsText), leftmost-longest, then trims the white
  /// space that lstrip/rstrip tokens take from the text beside them.
  /// Empty text sections are left out.
  void split(std::string_view s, bool specialsAsText, std::vector<Section> &out) const;

private:
  struct Node {
    int32_t token = -1; // index into tokens_ of the token ending here
  };
  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_ = std::vector<Node>(1);      // nodes_[0]: the root
  std::unordered_map<uint64_t, int32_t> children_;      // (node << 8) | byte -> node
};

} // namespace xfmr::tok

#endif

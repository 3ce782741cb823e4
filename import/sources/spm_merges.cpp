// SentencePiece merges from scores (gguf_tokenizer.h). A GGUF file of
// tokenizer.ggml.model "llama" has no merges, only each token's score;
// Hugging Face's converter (SentencePieceExtractor) makes the merges from
// them: for every token, each way of cutting it into two tokens, ranked by
// the token's score. Done naively that is quadratic in a token's length
// (every cut hashes both halves), and the lengths come from an untrusted
// file; two tries make it linear: walking a token down the trie of all
// tokens finds each prefix that is a token, walking it reversed down the
// trie of reversed tokens each suffix.
#include "xfmr/import/gguf_tokenizer.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

using namespace xfmr::io;

namespace {
/// Byte trie: node 0 is the root; a node has the id of the token that ends
/// there, or -1.
class Trie {
public:
  Trie() : id_(1, -1) {}

  void add(std::string_view s, int32_t id, bool reversed) {
    int32_t node = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      uint8_t b = uint8_t(reversed ? s[s.size() - 1 - k] : s[k]);
      auto [it, inserted] = next_.emplace(key(node, b), int32_t(id_.size()));
      if (inserted)
        id_.push_back(-1);
      node = it->second;
    }
    id_[size_t(node)] = id;
  }
  /// *node's child by byte b; false when there is none.
  bool step(int32_t *node, uint8_t b) const {
    auto it = next_.find(key(*node, b));
    if (it == next_.end())
      return false;
    *node = it->second;
    return true;
  }
  int32_t id(int32_t node) const { return id_[size_t(node)]; }

private:
  static uint64_t key(int32_t node, uint8_t b) { return uint64_t(node) << 8 | b; }
  std::unordered_map<uint64_t, int32_t> next_;
  std::vector<int32_t> id_;
};
} // namespace

std::vector<Merge> xfmr::io::mergesFromScores(const std::vector<std::string> &tokens,
                                              const std::vector<float> &scores,
                                              const std::vector<bool> &result) {
  Trie forward, backward;
  for (size_t i = 0; i < tokens.size(); ++i) {
    forward.add(tokens[i], int32_t(i), false);
    backward.add(tokens[i], int32_t(i), true);
  }
  std::vector<Merge> merges;
  std::vector<int32_t> prefix, suffix; // the id of t[:k], of t[k:]
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string &t = tokens[i];
    const size_t n = t.size();
    if (!result[i] || n < 2)
      continue;
    prefix.assign(n, -1);
    suffix.assign(n, -1);
    int32_t node = 0;
    for (size_t k = 0; k + 1 < n && forward.step(&node, uint8_t(t[k])); ++k)
      prefix[k + 1] = forward.id(node);
    node = 0;
    for (size_t k = n - 1; k >= 1 && backward.step(&node, uint8_t(t[k])); --k)
      suffix[k] = backward.id(node);
    // A cut inside a UTF-8 character leaves no valid token on either side,
    // so cuts between bytes are cuts between characters, as the converter's.
    for (size_t k = 1; k < n; ++k)
      if (prefix[k] >= 0 && suffix[k] >= 0)
        merges.push_back({prefix[k], suffix[k], int32_t(i)});
  }
  std::sort(merges.begin(), merges.end(), [&](const Merge &a, const Merge &b) {
    float sa = scores[size_t(a[2])], sb = scores[size_t(b[2])];
    if (sa != sb)
      return sa > sb;
    return a[2] != b[2] ? a[2] < b[2] : a[0] != b[0] ? a[0] < b[0] : a[1] < b[1];
  });
  return merges;
}

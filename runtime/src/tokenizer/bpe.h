// Byte-pair encoding: the merge table and the merge loop, shared by every
// BPE vocabulary (GPT-2's merges.txt, tokenizer.json's model.merges), and
// the model around it: how a pre-token becomes the loop's first symbols
// (its bytes, or its characters), byte fallback, the unknown token and the
// cache of recent words.
#ifndef XFMR_RUNTIME_TOKENIZER_BPE_H
#define XFMR_RUNTIME_TOKENIZER_BPE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace xfmr::tok {

struct Merge {
  int32_t rank;   // order in the file: lower merges first
  int32_t result; // the id of the concatenation
};

class MergeTable {
public:
  /// Adds the merge a b -> result with the next rank; false (and nothing
  /// added) when a b is already there: the first of two equal merges wins.
  bool add(int32_t a, int32_t b, int32_t result);
  const Merge *find(int32_t a, int32_t b) const {
    auto it = merges_.find(key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  }
  size_t size() const { return merges_.size(); }

private:
  static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t nextRank_ = 0;
};

/// Which of two pairs of one rank merges first when a merge creates a pair
/// of a lower rank than the one being merged (possible only when the file's
/// merges are not in training order).
enum class MergeOrder {
  /// GPT-2's encoder.py: every pair of the lowest rank merges, left to
  /// right, before the table is searched again.
  FinishRank,
  /// Hugging Face's tokenizers: one merge at a time, the lowest (rank,
  /// position) first.
  Strict,
};

/// One symbol after merging: its id (-1: a unit without a token) and the
/// index of its first unit.
struct Symbol {
  int32_t id;
  int32_t unit;
};

/// Merges `ids` (one per unit, -1 for a unit without a token, which never
/// merges) as the table says; in O(n log n) rather than the textbook loop's
/// O(n^2): symbols form a linked list, candidate pairs wait in a min-heap
/// keyed by (rank, left position) and are checked when popped (a merge
/// nearby may have changed either side).
std::vector<Symbol> mergeSymbols(const MergeTable &merges, const std::vector<int32_t> &ids,
                                 MergeOrder order);

/// What a model's symbols are.
enum class Alphabet {
  Bytes, // byte-level BPE: a word's bytes, each its own token at first
  Chars, // SentencePiece-style BPE: a word's code points
};

struct BpeModel {
  Alphabet alphabet = Alphabet::Bytes;
  MergeOrder order = MergeOrder::Strict;
  MergeTable merges;
  /// Bytes: the token of each byte alone; Chars: the <0xNN> token of each
  /// byte (byte fallback), -1 where there is none.
  int32_t byteId[256];
  /// The model's tokens as the file spells them -> id; kept when encoding
  /// needs it (Chars, or ignoreMerges), else empty.
  std::unordered_map<std::string, int32_t> idOf;
  bool byteFallback = false; // Chars: a character without a token becomes its bytes' <0xNN>
  bool ignoreMerges = false; // a word that is a token is that token, without merging (Llama 3)
  bool fuseUnk = false;      // consecutive unknown units give one unk
  int32_t unk = -1;          // the unknown token, -1: unknown units are left out

  BpeModel() {
    for (int32_t &id : byteId)
      id = -1;
  }

  /// The ids of one pre-token, valid until the next call.
  const std::vector<int32_t> &encodeWord(std::string_view word);

private:
  void encodeUncached(std::string_view word, std::vector<int32_t> &out) const;
  std::unordered_map<std::string, std::vector<int32_t>> cache_;
  std::vector<int32_t> uncached_; // the ids of the last uncacheable word
};

} // namespace xfmr::tok

#endif

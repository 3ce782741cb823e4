#include "bpe.h"

#include "byte_level.h"
#include "unicode.h"

#include <algorithm>
#include <functional>

namespace xfmr::tok {
namespace {
/// Words up to this long are remembered with their ids: words recur,
/// long runs (a hex dump, a line of dashes) seldom do and would pin memory.
constexpr size_t kMaxCachedWordBytes = 64;
/// The cache is emptied when it reaches this many words, so it stays a few
/// MiB; a text's common words are back in it after a few sentences.
constexpr size_t kMaxCachedWords = size_t(1) << 14;
/// Marks a symbol merged into its left neighbour (ids are >= -1).
constexpr int32_t kDead = -2;
} // namespace

bool MergeTable::add(int32_t a, int32_t b, int32_t result) {
  return merges_.emplace(key(a, b), Merge{nextRank_, result}).second && (++nextRank_, true);
}

std::vector<Symbol> mergeSymbols(const MergeTable &merges, const std::vector<int32_t> &ids,
                                 MergeOrder order) {
  struct Node {
    int32_t id, prev, next; // prev, next: positions, -1 at either end
  };
  int32_t n = int32_t(ids.size());
  std::vector<Node> sym(ids.size());
  for (int32_t i = 0; i < n; ++i)
    sym[i] = {ids[i], i - 1, i + 1 < n ? i + 1 : -1};
  std::vector<uint64_t> heap; // (rank << 32) | left position
  auto push = [&](int32_t left) {
    int32_t right = sym[left].next;
    if (right < 0 || sym[left].id < 0 || sym[right].id < 0)
      return;
    if (const Merge *m = merges.find(sym[left].id, sym[right].id)) {
      heap.push_back((uint64_t(m->rank) << 32) | uint32_t(left));
      std::push_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i)
    push(i);
  std::vector<int32_t> round; // left positions of one rank, ascending
  while (!heap.empty()) {
    uint64_t rank = heap.front() >> 32;
    round.clear();
    // FinishRank pops every pair of this rank before merging any: a merge
    // can create a pair of a lower rank, which the textbook loop only takes
    // after finishing the current rank.
    do {
      round.push_back(int32_t(uint32_t(heap.front())));
      std::pop_heap(heap.begin(), heap.end(), std::greater<uint64_t>());
      heap.pop_back();
    } while (order == MergeOrder::FinishRank && !heap.empty() && heap.front() >> 32 == rank);
    for (int32_t left : round) {
      Node &l = sym[left];
      if (l.id < 0 || l.next < 0)
        continue;
      // Stale unless the pair there is still the one of this rank (a rank
      // names one pair, so this checks both sides' text).
      const Merge *m = merges.find(l.id, sym[l.next].id);
      if (!m || uint64_t(m->rank) != rank)
        continue;
      int32_t right = l.next;
      l.id = m->result;
      l.next = sym[right].next;
      if (l.next >= 0)
        sym[l.next].prev = left;
      sym[right].id = kDead;
      if (l.prev >= 0)
        push(l.prev);
      push(left);
    }
  }
  std::vector<Symbol> out;
  for (int32_t i = n ? 0 : -1; i >= 0; i = sym[i].next)
    out.push_back({sym[i].id, i});
  return out;
}

void BpeModel::encodeUncached(std::string_view word, std::vector<int32_t> &out) const {
  if (ignoreMerges && !idOf.empty()) {
    auto it = idOf.find(alphabet == Alphabet::Bytes ? toByteLevel(word) : std::string(word));
    if (it != idOf.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // The units and their first ids; unitStart[k] is where unit k begins.
  std::vector<int32_t> ids;
  std::vector<uint32_t> unitStart;
  if (alphabet == Alphabet::Bytes) {
    for (unsigned char b : word)
      ids.push_back(byteId[b]);
  } else {
    std::string key;
    for (size_t i = 0; i < word.size();) {
      size_t len = decodeAt(word, i).len;
      key.assign(word.substr(i, len));
      auto it = idOf.find(key);
      ids.push_back(it == idOf.end() ? -1 : it->second);
      unitStart.push_back(uint32_t(i));
      i += len;
    }
    unitStart.push_back(uint32_t(word.size()));
  }
  bool lastWasUnk = false;
  for (const Symbol &s : mergeSymbols(merges, ids, order)) {
    if (s.id >= 0) {
      out.push_back(s.id);
      lastWasUnk = false;
      continue;
    }
    // A unit without a token: its bytes' <0xNN> tokens, else unk (one for
    // a run of them with fuseUnk), else nothing (GPT-2 leaves it out).
    if (alphabet == Alphabet::Chars && byteFallback) {
      std::string_view bytes = word.substr(unitStart[s.unit], unitStart[s.unit + 1] - unitStart[s.unit]);
      bool all = std::all_of(bytes.begin(), bytes.end(),
                             [&](char b) { return byteId[(unsigned char)b] >= 0; });
      if (all) {
        for (unsigned char b : bytes)
          out.push_back(byteId[b]);
        lastWasUnk = false;
        continue;
      }
    }
    if (unk >= 0 && !(fuseUnk && lastWasUnk))
      out.push_back(unk);
    lastWasUnk = unk >= 0;
  }
}

const std::vector<int32_t> &BpeModel::encodeWord(std::string_view word) {
  if (word.size() > kMaxCachedWordBytes) {
    uncached_.clear();
    encodeUncached(word, uncached_);
    return uncached_;
  }
  std::string key(word);
  auto hit = cache_.find(key);
  if (hit != cache_.end())
    return hit->second;
  std::vector<int32_t> ids;
  encodeUncached(word, ids);
  if (cache_.size() >= kMaxCachedWords)
    cache_.clear();
  return cache_.emplace(std::move(key), std::move(ids)).first->second;
}

} // namespace xfmr::tok

#include "added_tokens.h"

#include "unicode.h"

namespace xfmr::tok {

void AddedTokenMatcher::add(const AddedToken &token) {
  int32_t node = 0;
  for (unsigned char b : token.content) {
    uint64_t key = (uint64_t(node) << 8) | b;
    auto it = children_.find(key);
    if (it == children_.end()) {
      it = children_.emplace(key, int32_t(nodes_.size())).first;
      nodes_.emplace_back();
    }
    node = it->second;
  }
  nodes_[size_t(node)].token = int32_t(tokens_.size());
  tokens_.push_back(token);
}

namespace {
/// s without its leading (front) or trailing white space.
std::string_view trimmed(std::string_view s, bool front) {
  size_t begin = 0, end = 0; // end: after the last code point that is not space
  bool leading = true;
  for (size_t i = 0; i < s.size();) {
    CodePoint c = decodeAt(s, i);
    bool space = isWhiteSpace(c.cp);
    if (leading && space)
      begin = i + c.len;
    leading = leading && space;
    i += c.len;
    if (!space)
      end = i;
  }
  return front ? s.substr(begin) : s.substr(0, end);
}
} // namespace

void AddedTokenMatcher::split(std::string_view s, bool specialsAsText,
                              std::vector<Section> &out) const {
  out.clear();
  size_t textStart = 0;
  for (size_t i = 0; i < s.size();) {
    // The longest token starting at i: a walk of at most kMaxAddedTokenBytes.
    int32_t node = 0, best = -1;
    size_t bestEnd = i;
    for (size_t j = i; j < s.size(); ++j) {
      auto it = children_.find((uint64_t(node) << 8) | (unsigned char)s[j]);
      if (it == children_.end())
        break;
      node = it->second;
      int32_t t = nodes_[size_t(node)].token;
      if (t >= 0 && !(specialsAsText && tokens_[size_t(t)].special)) {
        best = t;
        bestEnd = j + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    if (i > textStart)
      out.push_back({s.substr(textStart, i - textStart), -1});
    out.push_back({s.substr(i, bestEnd - i), best}); // id fixed below
    i = textStart = bestEnd;
  }
  if (textStart < s.size())
    out.push_back({s.substr(textStart), -1});
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k].id < 0)
      continue;
    const AddedToken &t = tokens_[size_t(out[k].id)];
    if (t.lstrip && k > 0 && out[k - 1].id < 0)
      out[k - 1].text = trimmed(out[k - 1].text, false);
    if (t.rstrip && k + 1 < out.size() && out[k + 1].id < 0)
      out[k + 1].text = trimmed(out[k + 1].text, true);
  }
  size_t kept = 0;
  for (Section &sec : out) {
    if (sec.id >= 0)
      sec.id = tokens_[size_t(sec.id)].id;
    else if (sec.text.empty())
      continue;
    out[kept++] = sec;
  }
  out.resize(kept);
}

} // namespace xfmr::tok

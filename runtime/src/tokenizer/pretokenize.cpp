#include "pretokenize.h"

#include "unicode.h"

namespace xfmr::tok {
namespace {
const char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

/// A cursor over a text's code points and their classes.
struct Text {
  std::string_view s;
  CodePoint at(size_t i) const { return decodeAt(s, i); }
  CharClass classAt(size_t i) const { return i < s.size() ? classify(at(i).cp) : CharClass::Other; }
  size_t next(size_t i) const { return i + at(i).len; }
  /// The end of the run of class `cls` from i (at most `max` code points);
  /// *last, when given, is where the run's last code point starts.
  size_t runOf(size_t i, CharClass cls, size_t *last = nullptr, size_t max = SIZE_MAX) const {
    for (size_t k = 0; i < s.size() && k < max; ++k) {
      CodePoint c = at(i);
      if (classify(c.cp) != cls)
        break;
      if (last)
        *last = i;
      i += c.len;
    }
    return i;
  }
};

/// The length of a contraction ('s 't 'm 'd 're 've 'll) at s[i], or 0;
/// ASCII letters only, of either case when `anyCase` (Llama 3's (?i:...)).
size_t contractionAt(std::string_view s, size_t i, bool anyCase) {
  if (s[i] != '\'' || i + 1 >= s.size())
    return 0;
  auto letter = [&](size_t k) -> char {
    if (k >= s.size())
      return 0;
    char c = s[k];
    return anyCase && c >= 'A' && c <= 'Z' ? char(c | 0x20) : c;
  };
  char a = letter(i + 1), b = letter(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd')
    return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
    return 3;
  return 0;
}

void splitGpt2(Text t, const WordSink &emit) {
  size_t n = t.s.size();
  for (size_t i = 0; i < n;) {
    size_t end;
    if (size_t c = contractionAt(t.s, i, false)) {
      end = i + c;
    } else {
      // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional space, then
      // a run of one class.
      size_t j = t.s[i] == ' ' && i + 1 < n && t.classAt(i + 1) != CharClass::Space ? i + 1 : i;
      CharClass cls = t.classAt(j);
      if (cls != CharClass::Space) {
        end = t.runOf(j, cls);
      } else { // "\s+(?!\S)|\s+": leave the last space for the next word
        size_t last = i, e = t.runOf(i, CharClass::Space, &last);
        end = e < n && last > i ? last : e;
      }
    }
    emit(t.s.substr(i, end - i));
    i = end;
  }
}

/// Llama 3 and Qwen2, alternatives in the regex's order (maxDigits: 3 or 1).
void splitLlama3(Text t, size_t maxDigits, const WordSink &emit) {
  size_t n = t.s.size();
  auto isCrLf = [&](size_t k) { return k < n && (t.s[k] == '\r' || t.s[k] == '\n'); };
  for (size_t i = 0; i < n;) {
    size_t end;
    CharClass cls = t.classAt(i);
    size_t after = t.next(i);
    if (size_t c = contractionAt(t.s, i, true)) { // (?i:'s|'t|...)
      end = i + c;
    } else if (cls == CharClass::Letter) { // [^\r\n\p{L}\p{N}]?\p{L}+ without the prefix
      end = t.runOf(i, CharClass::Letter);
    } else if (cls != CharClass::Number && !isCrLf(i) && t.classAt(after) == CharClass::Letter &&
               after < n) { // ... with it: one space, mark or symbol, then letters
      end = t.runOf(after, CharClass::Letter);
    } else if (cls == CharClass::Number) { // \p{N}{1,3}
      end = t.runOf(i, CharClass::Number, nullptr, maxDigits);
    } else if (cls == CharClass::Other ||
               (t.s[i] == ' ' && t.classAt(after) == CharClass::Other && after < n)) {
      // " ?[^\s\p{L}\p{N}]+[\r\n]*"
      end = t.runOf(t.s[i] == ' ' ? after : i, CharClass::Other);
      while (isCrLf(end))
        ++end;
    } else { // white space
      size_t last = i, e = t.runOf(i, CharClass::Space, &last);
      size_t crlf = SIZE_MAX; // "\s*[\r\n]+": up to the run's last CR or LF
      for (size_t k = i; k < e; ++k)
        if (isCrLf(k))
          crlf = k;
      if (crlf != SIZE_MAX)
        end = crlf + 1;
      else // "\s+(?!\S)|\s+"
        end = e < n && last > i ? last : e;
    }
    emit(t.s.substr(i, end - i));
    i = end;
  }
}
} // namespace

bool patternOf(std::string_view regex, Pattern *pattern) {
  if (regex == kGpt2Regex)
    *pattern = Pattern::Gpt2;
  else if (regex == kLlama3Regex)
    *pattern = Pattern::Llama3;
  else if (regex == kQwen2Regex)
    *pattern = Pattern::Qwen2;
  else
    return false;
  return true;
}

void splitByPattern(Pattern pattern, std::string_view s, const WordSink &emit) {
  switch (pattern) {
  case Pattern::Gpt2:
    return splitGpt2(Text{s}, emit);
  case Pattern::Llama3:
    return splitLlama3(Text{s}, 3, emit);
  case Pattern::Qwen2:
    return splitLlama3(Text{s}, 1, emit);
  }
}

namespace {
void runSteps(const std::vector<PreTokenizeStep> &steps, size_t k, std::string_view piece,
              bool first, const WordSink &emit) {
  if (piece.empty())
    return;
  if (k == steps.size())
    return emit(piece);
  const PreTokenizeStep &step = steps[k];
  auto next = [&](std::string_view p) { runSteps(steps, k + 1, p, first, emit); };
  switch (step.kind) {
  case PreTokenizeStep::Split:
    return splitByPattern(step.pattern, piece, next);
  case PreTokenizeStep::ByteLevel: {
    std::string spaced;
    if (step.addPrefixSpace && piece[0] != ' ') {
      spaced = " " + std::string(piece);
      piece = spaced;
    }
    if (step.useRegex)
      return splitByPattern(Pattern::Gpt2, piece, next);
    return next(piece);
  }
  case PreTokenizeStep::Metaspace: {
    std::string out;
    const std::string &r = step.replacement;
    bool prepend = step.prepend == PreTokenizeStep::Always ||
                   (step.prepend == PreTokenizeStep::First && first);
    if (prepend && piece.substr(0, r.size()) != r)
      out = r;
    for (char c : piece) {
      if (c == ' ')
        out += r;
      else
        out += c;
    }
    if (!step.splitWords)
      return next(out);
    // Rust's Split(replacement, MergedWithNext): each replacement starts a word.
    size_t start = 0;
    // From 1: a replacement at 0 starts the first word (r is one whole code
    // point, so no match begins inside another).
    for (size_t at = out.find(r, 1); at != std::string::npos; at = out.find(r, at + r.size())) {
      next(std::string_view(out).substr(start, at - start));
      start = at;
    }
    return next(std::string_view(out).substr(start));
  }
  }
}
} // namespace

void preTokenize(const std::vector<PreTokenizeStep> &steps, std::string_view section,
                 bool first, const WordSink &emit) {
  runSteps(steps, 0, section, first, emit);
}

} // namespace xfmr::tok

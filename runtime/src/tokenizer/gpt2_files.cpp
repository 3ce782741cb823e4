// GPT-2's tokenizer as its first release shipped it: vocab.json (token ->
// id, tokens in the byte-level alphabet) and merges.txt (one merge "A B" a
// line, by rank), with GPT-2's pre-tokenization pattern and encoder.py's
// merge order.
#include "byte_level.h"
#include "load_util.h"
#include "loaders.h"

#include <climits>
#include <unordered_map>

namespace xfmr::tok {
namespace {
/// Parses vocab.json into token -> id and t's tables; false with *error.
bool parseVocab(const std::string &text, const std::string &path,
                std::unordered_map<std::string, int32_t> &vocab, xfmr_tokenizer &t,
                std::string *error) {
  // nlohmann keeps the last of two equal keys: count them to notice.
  size_t keys = 0;
  nlohmann::json::parser_callback_t countKeys =
      [&keys](int depth, nlohmann::json::parse_event_t event, nlohmann::json &) {
        if (depth == 1 && event == nlohmann::json::parse_event_t::key)
          ++keys;
        return true;
      };
  nlohmann::json j;
  if (!parseJson(text, path, &j, error, countKeys))
    return false;
  if (!j.is_object()) {
    *error = path + ": not a JSON object of token -> id";
    return false;
  }
  if (keys != j.size()) {
    *error = path + ": a token appears more than once";
    return false;
  }
  size_t count = j.size();
  if (count == 0) {
    *error = path + ": no tokens";
    return false;
  }
  t.bytesOf.assign(count, std::string());
  t.special.assign(count, 0);
  std::vector<bool> seen(count, false);
  vocab.reserve(count);
  for (auto &[tok, id] : j.items()) {
    // is_number_unsigned: an integer >= 0 (a negative one is only
    // is_number_integer); floats, strings and the rest are refused.
    if (!id.is_number_unsigned()) {
      *error = path + ": bad id for token " + quote(tok) + " (not a non-negative integer)";
      return false;
    }
    uint64_t i = id.get<uint64_t>();
    if (i >= count) {
      *error = path + ": id " + std::to_string(i) + " of token " + quote(tok) +
               " is outside 0.." + std::to_string(count - 1) +
               " (the ids must be 0..N-1 for N tokens)";
      return false;
    }
    if (seen[i]) {
      *error = path + ": id " + std::to_string(i) + " is given twice (again to " + quote(tok) + ")";
      return false;
    }
    seen[i] = true;
    vocab.emplace(tok, int32_t(i));
    t.bytesOf[i] = tokenBytes(t.decoder, tok, /*added=*/false);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(toByteLevel(std::string(1, char(b))));
    t.model.byteId[b] = it == vocab.end() ? -1 : it->second;
  }
  return true;
}

/// Parses merges.txt into t.model.merges; false with *error naming the line.
bool parseMerges(const std::string &text, const std::string &path,
                 const std::unordered_map<std::string, int32_t> &vocab, xfmr_tokenizer &t,
                 std::string *error) {
  auto idOf = [&](const std::string &s) {
    auto it = vocab.find(s);
    return it == vocab.end() ? -1 : it->second;
  };
  size_t lineNo = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = std::min(text.find('\n', pos), text.size());
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty() || line.substr(0, 8) == "#version")
      continue;
    std::string where = path + ":" + std::to_string(lineNo) + ": ";
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      *error = where + "not a merge 'A B' (two non-empty parts, one space): " + quote(line);
      return false;
    }
    std::string a(line.substr(0, space)), b(line.substr(space + 1));
    int32_t ia = idOf(a), ib = idOf(b), iab = idOf(a + b);
    auto notAToken = [&](const char *what, const std::string &s) {
      *error = where + what + " " + quote(s) + " is not a token of vocab.json";
      return false;
    };
    if (ia < 0)
      return notAToken("part", a);
    if (ib < 0)
      return notAToken("part", b);
    if (iab < 0)
      return notAToken("result", a + b);
    if (t.model.merges.size() == size_t(INT32_MAX)) {
      *error = where + "more merges than ranks";
      return false;
    }
    t.model.merges.add(ia, ib, iab);
  }
  return true;
}
} // namespace

bool loadGpt2Files(const std::string &vocabJson, const std::string &mergesTxt,
                   const std::string &name, xfmr_tokenizer &t, std::string *error) {
  t.decoder.byteLevel = true;
  t.model.alphabet = Alphabet::Bytes;
  t.model.order = MergeOrder::FinishRank;
  PreTokenizeStep gpt2;
  gpt2.kind = PreTokenizeStep::ByteLevel;
  gpt2.useRegex = true;
  t.preTokenizer = {gpt2};
  std::unordered_map<std::string, int32_t> vocab; // only needed to load
  return parseVocab(vocabJson, name + "/vocab.json", vocab, t, error) &&
         parseMerges(mergesTxt, name + "/merges.txt", vocab, t, error);
}

} // namespace xfmr::tok

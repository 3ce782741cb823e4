#include "normalize.h"

#include "unicode.h"

namespace xfmr::tok {

std::string replaceAll(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, pos)) {
    out.append(s, pos, at - pos);
    out += to;
    pos = at + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

std::string normalize(const std::vector<NormalizeStep> &steps, std::string_view input) {
  std::string s(input);
  for (const NormalizeStep &step : steps) {
    switch (step.kind) {
    case NormalizeStep::Prepend:
      if (!s.empty())
        s.insert(0, step.text);
      break;
    case NormalizeStep::Replace:
      s = replaceAll(s, step.from, step.text);
      break;
    case NormalizeStep::Nfc:
      s = toNfc(s);
      break;
    }
  }
  return s;
}

} // namespace xfmr::tok

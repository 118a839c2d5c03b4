// Text that comes from files (class names, paths, error messages quoting
// them) made safe to print on a terminal.
#pragma once

#include <string>

namespace spdinfer::cli {

// `text` with every control character replaced by '?': C0 (newline, ESC, ...), DEL, and C1
// (U+0080 to U+009F, bytes C2 80 to C2 9F in UTF-8), so a class name cannot move the cursor,
// recolour, retitle or clear the terminal, or break a one-line message in two. Other bytes,
// UTF-8 or not, pass unchanged. JSON output does not need it: nlohmann escapes control
// characters itself.
inline std::string terminal_text(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      out += '?';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace spdinfer::cli

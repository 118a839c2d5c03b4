// UTF-8 decoding (see utf8.h).
#include "detect/utf8.h"

namespace spdinfer {

std::u32string decode_utf8(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<unsigned char>(text[i++]);
    if (lead < 0x80) {
      out += lead;
      continue;
    }
    // Length and the range the second byte may take (Table 3-7 of the Unicode standard): the
    // narrower ranges after E0, ED, F0 and F4 rule out overlong forms, surrogates and values
    // above U+10FFFF.
    int length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else {
      out += kReplacementCharacter;  // a continuation byte with no lead, C0, C1 or F5-FF
      continue;
    }
    char32_t cp = lead & (0xFF >> (length + 1));
    bool complete = true;
    for (int k = 1; k < length; ++k) {
      const auto c = i < n ? static_cast<unsigned char>(text[i]) : 0;
      if (i >= n || c < low || c > high) {
        complete = false;  // the bytes read so far form the maximal subpart; c starts afresh
        break;
      }
      cp = (cp << 6) | (c & 0x3F);
      ++i;
      low = 0x80;
      high = 0xBF;
    }
    out += complete ? cp : kReplacementCharacter;
  }
  return out;
}

}  // namespace spdinfer

// UTF-8 to Unicode code points for drawing text (class names come from model
// files and dataset YAML, so any bytes at all).
#pragma once

#include <string>

namespace spdinfer {

constexpr char32_t kReplacementCharacter = 0xFFFD;

// The code points of `text`. Each maximal ill-formed subsequence (a stray
// continuation byte, a sequence cut short, an overlong form, a surrogate, a
// value above U+10FFFF, the bytes C0, C1, F5-FF) becomes one U+FFFD, as the
// Unicode standard recommends (3.9, "U+FFFD Substitution of Maximal
// Subparts"); the decoding resumes at the next byte that could start a
// character. Valid text decodes exactly; nothing is ever read past the end.
std::u32string decode_utf8(const std::string& text);

}  // namespace spdinfer

// Antialiased text onto an RGB image: UTF-8 laid out in DejaVu Sans (Debian's
// fonts-dejavu-core, compiled into the library by cmake/embed_binary.cmake, so
// nothing is looked up at run time) and rasterised by stb_truetype, each
// glyph's coverage alpha-blended over the pixels. Code points the font lacks
// are drawn as its missing-glyph box, invalid UTF-8 as U+FFFD (utf8.h).
// What it is not: a shaper (no ligatures, no right-to-left) or a multi-line
// layout; it draws one line of label text.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace spdinfer {

using Rgb = std::array<std::uint8_t, 3>;

// The box a line of text occupies: its advance width, and the font's ascent
// to descent at the pixel height asked for, the same for every text so that
// labels of one size line up.
struct TextSize {
  int width = 0, height = 0;
};
TextSize text_size(const std::string& utf8, int pixel_height);

// Draws `utf8` with the top-left corner of its box (text_size) at (x, y). No
// pixel outside that box or the image changes.
void draw_text(Image& img, int x, int y, const std::string& utf8, Rgb color, int pixel_height);

}  // namespace spdinfer

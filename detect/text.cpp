// TrueType text (see text.h).
#include "detect/text.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <vector>

#include "detect/utf8.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#define STBTT_STATIC  // private to this file: a program linking another stb_truetype is unaffected
#define STB_TRUETYPE_IMPLEMENTATION
#include <stb_truetype.h>
#pragma GCC diagnostic pop

namespace spdinfer {

// The bytes of SPDINFER_LABEL_FONT (CMakeLists.txt, cmake/embed_binary.cmake).
extern const unsigned char kLabelFont[];
extern const std::size_t kLabelFont_size;

namespace {

// The font, parsed once; null if stb_truetype refuses it. CMake checks the file is TrueType, so
// that should not happen, but if it does labels keep their boxes and lose their text, with one
// warning, rather than the program stopping over a drawing.
const stbtt_fontinfo* label_font() {
  static const stbtt_fontinfo* font = [] {
    static stbtt_fontinfo info;
    const int offset = stbtt_GetFontOffsetForIndex(kLabelFont, 0);
    if (offset < 0 || !stbtt_InitFont(&info, kLabelFont, offset)) {
      std::fputs("spdinfer: warning: the embedded label font cannot be read; labels have no text\n", stderr);
      return static_cast<const stbtt_fontinfo*>(nullptr);
    }
    return static_cast<const stbtt_fontinfo*>(&info);
  }();
  return font;
}

struct PlacedGlyph {
  int index;  // in the font; 0 is its missing glyph
  float x;    // pen position, in pixels from the left of the text box
};

struct Layout {
  float scale = 0;  // font units to pixels
  int baseline = 0;
  TextSize size;
  std::vector<PlacedGlyph> glyphs;
};

Layout layout(const stbtt_fontinfo& font, const std::string& utf8, int pixel_height) {
  Layout out;
  out.scale = stbtt_ScaleForPixelHeight(&font, static_cast<float>(pixel_height));
  int ascent = 0, descent = 0, line_gap = 0;
  stbtt_GetFontVMetrics(&font, &ascent, &descent, &line_gap);
  out.baseline = static_cast<int>(std::lround(ascent * out.scale));
  out.size.height = static_cast<int>(std::ceil((ascent - descent) * out.scale));
  float pen = 0;
  int previous = -1;
  for (const char32_t cp : decode_utf8(utf8)) {
    const int glyph = stbtt_FindGlyphIndex(&font, static_cast<int>(cp));
    if (previous >= 0) pen += stbtt_GetGlyphKernAdvance(&font, previous, glyph) * out.scale;
    out.glyphs.push_back({glyph, pen});
    int advance = 0, left_bearing = 0;
    stbtt_GetGlyphHMetrics(&font, glyph, &advance, &left_bearing);
    pen += advance * out.scale;
    previous = glyph;
  }
  out.size.width = static_cast<int>(std::ceil(pen));
  return out;
}

// p += (c - p) * coverage, rounded, on 0..255 integers.
std::uint8_t blend(std::uint8_t p, std::uint8_t c, int coverage) {
  return static_cast<std::uint8_t>((p * (255 - coverage) + c * coverage + 127) / 255);
}

}  // namespace

TextSize text_size(const std::string& utf8, int pixel_height) {
  const stbtt_fontinfo* font = label_font();
  if (!font || pixel_height <= 0) return {};
  return layout(*font, utf8, pixel_height).size;
}

void draw_text(Image& img, int x, int y, const std::string& utf8, Rgb color, int pixel_height) {
  const stbtt_fontinfo* font = label_font();
  if (!font || pixel_height <= 0) return;
  const Layout text = layout(*font, utf8, pixel_height);
  // Ink that strays out of the text box (a glyph's overhang) is cut, so the box is a promise.
  const int clip_x0 = std::max(x, 0), clip_y0 = std::max(y, 0);
  const int clip_x1 = std::min(x + text.size.width, img.width);
  const int clip_y1 = std::min(y + text.size.height, img.height);
  std::vector<unsigned char> coverage;
  for (const PlacedGlyph& g : text.glyphs) {
    // Rendered at its fractional pen position, so spacing does not drift by rounding.
    const float whole = std::floor(g.x);
    const float shift = g.x - whole;
    int gx0 = 0, gy0 = 0, gx1 = 0, gy1 = 0;
    stbtt_GetGlyphBitmapBoxSubpixel(font, g.index, text.scale, text.scale, shift, 0, &gx0, &gy0, &gx1, &gy1);
    const int w = gx1 - gx0, h = gy1 - gy0;
    if (w <= 0 || h <= 0) continue;  // a space
    coverage.assign(static_cast<std::size_t>(w) * h, 0);
    stbtt_MakeGlyphBitmapSubpixel(font, coverage.data(), w, h, w, text.scale, text.scale, shift, 0, g.index);
    const int left = x + static_cast<int>(whole) + gx0, top = y + text.baseline + gy0;
    for (int row = std::max(top, clip_y0); row < std::min(top + h, clip_y1); ++row)
      for (int col = std::max(left, clip_x0); col < std::min(left + w, clip_x1); ++col) {
        const int a = coverage[static_cast<std::size_t>(row - top) * w + (col - left)];
        if (a == 0) continue;
        std::uint8_t* p = img.at(col, row);
        for (int k = 0; k < 3; ++k) p[k] = blend(p[k], color[k], a);
      }
  }
}

}  // namespace spdinfer

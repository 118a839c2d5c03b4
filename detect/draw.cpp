// Box and label drawing (see draw.h).
#include "detect/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

namespace spdinfer {
namespace {

// stb_easy_font indexes a table by (char - 32) with no check: anything that
// is not printable ASCII (UTF-8 bytes in class names) must not reach it.
std::string printable(const std::string& text) {
  std::string s = text;
  for (char& c : s)
    if (c < 32 || c > 126) c = '?';
  return s;
}

struct Quad {
  float x0, y0, x1, y1;
};

// The font's quads for `text` at the origin, in font units.
std::vector<Quad> text_quads(const std::string& text) {
  std::string s = printable(text);
  std::vector<char> buffer(s.size() * 300 + 64);  // ~270 bytes per character, as documented
  const int quads =
      stb_easy_font_print(0, 0, s.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  std::vector<Quad> out;
  for (int q = 0; q < quads; ++q) {
    // 4 vertices of 16 bytes: x, y, z floats and a colour; corners 0 and 2 are opposite.
    const float* v0 = reinterpret_cast<const float*>(buffer.data() + q * 64);
    const float* v2 = reinterpret_cast<const float*>(buffer.data() + q * 64 + 32);
    out.push_back(
        {std::min(v0[0], v2[0]), std::min(v0[1], v2[1]), std::max(v0[0], v2[0]), std::max(v0[1], v2[1])});
  }
  return out;
}

// Vertical extent of the font (cap top to descender bottom), in units; the
// same for every label so label boxes line up.
int font_units_height() {
  static const int h = [] {
    std::string all;
    for (char c = 33; c < 127; ++c) all += c;
    float bottom = 0;
    for (const Quad& q : text_quads(all)) bottom = std::max(bottom, q.y1);
    return static_cast<int>(std::ceil(bottom));
  }();
  return h;
}

}  // namespace

Rgb class_color(int class_id) {
  static const Rgb palette[20] = {
      {0xFF, 0x38, 0x38}, {0xFF, 0x9D, 0x97}, {0xFF, 0x70, 0x1F}, {0xFF, 0xB2, 0x1D}, {0xCF, 0xD2, 0x31},
      {0x48, 0xF9, 0x0A}, {0x92, 0xCC, 0x17}, {0x3D, 0xDB, 0x86}, {0x1A, 0x93, 0x34}, {0x00, 0xD4, 0xBB},
      {0x2C, 0x99, 0xA8}, {0x00, 0xC2, 0xFF}, {0x34, 0x45, 0x93}, {0x64, 0x73, 0xFF}, {0x00, 0x18, 0xEC},
      {0x84, 0x38, 0xFF}, {0x52, 0x00, 0x85}, {0xCB, 0x38, 0xFF}, {0xFF, 0x95, 0xC8}, {0xFF, 0x37, 0xC7}};
  return palette[((class_id % 20) + 20) % 20];
}

int default_line_width(int width, int height) {
  return std::max(static_cast<int>(std::nearbyint((width + height) / 2.0 * 0.003)), 2);
}

void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb color) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, img.width);
  y1 = std::min(y1, img.height);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      std::uint8_t* p = img.at(x, y);
      p[0] = color[0];
      p[1] = color[1];
      p[2] = color[2];
    }
}

void draw_box(Image& img, int x1, int y1, int x2, int y2, Rgb color, int thickness) {
  const int before = thickness / 2, after = thickness - before;
  fill_rect(img, x1 - before, y1 - before, x2 + after, y1 + after, color);  // top
  fill_rect(img, x1 - before, y2 - before, x2 + after, y2 + after, color);  // bottom
  fill_rect(img, x1 - before, y1 - before, x1 + after, y2 + after, color);  // left
  fill_rect(img, x2 - before, y1 - before, x2 + after, y2 + after, color);  // right
}

TextSize text_size(const std::string& text, int scale) {
  std::string s = printable(text);
  return {stb_easy_font_width(s.data()) * scale, font_units_height() * scale};
}

void draw_text(Image& img, int x, int y, const std::string& text, Rgb color, int scale) {
  for (const Quad& q : text_quads(text))
    fill_rect(img, x + static_cast<int>(q.x0 * scale), y + static_cast<int>(q.y0 * scale),
              x + static_cast<int>(q.x1 * scale), y + static_cast<int>(q.y1 * scale), color);
}

void draw_detections(Image& img, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     int line_width) {
  const int lw = line_width > 0 ? line_width : default_line_width(img.width, img.height);
  const int scale = std::max(2, lw - 1);  // ~14 px text at YOLOv5's usual widths
  for (const Detection& d : dets) {
    const Rgb color = class_color(d.class_id);
    const int x1 = static_cast<int>(d.x1), y1 = static_cast<int>(d.y1);
    draw_box(img, x1, y1, static_cast<int>(d.x2), static_cast<int>(d.y2), color, lw);
    char conf[16];
    std::snprintf(conf, sizeof conf, " %.2f", static_cast<double>(d.confidence));
    const std::string name = d.class_id >= 0 && static_cast<std::size_t>(d.class_id) < names.size()
                                 ? names[d.class_id]
                                 : "class" + std::to_string(d.class_id);
    const std::string label = name + conf;
    const TextSize ts = text_size(label, scale);
    const int pad = scale;
    const int box_h = ts.height + 2 * pad;
    // As YOLOv5: the label sits on top of the box when it fits, else inside.
    const bool outside = y1 - box_h >= 0;
    const int top = outside ? y1 - box_h : y1;
    fill_rect(img, x1, top, x1 + ts.width + 2 * pad, top + box_h, color);
    // White on dark colours as YOLOv5, black on the light ones where white is hard to read.
    const int luma = (299 * color[0] + 587 * color[1] + 114 * color[2]) / 1000;
    const Rgb text_color = luma > 140 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
    draw_text(img, x1 + pad, top + pad, label, text_color, scale);
  }
}

}  // namespace spdinfer

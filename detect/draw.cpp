// Box and label drawing (see draw.h).
#include "detect/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace spdinfer {

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

int label_text_height(int line_width) { return std::max(11 * line_width, 12); }

namespace {
int label_margin(int text_height) { return std::max(1, text_height / 8); }
}  // namespace

TextSize label_size(const std::string& label, int text_height) {
  const TextSize text = text_size(label, text_height);
  const int margin = label_margin(text_height);
  return {text.width + 2 * margin, text.height + 2 * margin};
}

Rect place_label(int box_x, int box_y, int width, int height, int image_width, int image_height) {
  const int top = box_y - height >= 0 ? box_y - height : box_y;
  // Left and top clamped last, so a label larger than the image keeps its start visible.
  const int x = std::max(std::min(box_x, image_width - width), 0);
  const int y = std::max(std::min(top, image_height - height), 0);
  return {x, y, x + width, y + height};
}

void draw_detections(Image& img, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     const DrawStyle& style) {
  const int lw = style.line_width > 0 ? style.line_width : default_line_width(img.width, img.height);
  // Least confident first, so what ends on top is the most confident (see draw.h).
  std::vector<std::size_t> order(dets.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return dets[a].confidence < dets[b].confidence; });
  for (const std::size_t i : order) {
    const Detection& d = dets[i];
    draw_box(img, static_cast<int>(d.x1), static_cast<int>(d.y1), static_cast<int>(d.x2),
             static_cast<int>(d.y2), class_color(d.class_id), lw);
  }
  if (style.hide_labels) return;

  const int text_height = label_text_height(lw);
  const int margin = label_margin(text_height);
  for (const std::size_t i : order) {
    const Detection& d = dets[i];
    std::string label = d.class_id >= 0 && static_cast<std::size_t>(d.class_id) < names.size()
                            ? names[d.class_id]
                            : "class" + std::to_string(d.class_id);
    if (!style.hide_conf) {
      char conf[16];
      std::snprintf(conf, sizeof conf, " %.2f", static_cast<double>(d.confidence));
      label += conf;
    }
    const TextSize size = label_size(label, text_height);
    const Rect r = place_label(static_cast<int>(d.x1), static_cast<int>(d.y1), size.width, size.height,
                               img.width, img.height);
    const Rgb color = class_color(d.class_id);
    fill_rect(img, r.x0, r.y0, r.x1, r.y1, color);
    // White on dark colours as YOLOv5, black on the light ones where white is hard to read.
    const int luma = (299 * color[0] + 587 * color[1] + 114 * color[2]) / 1000;
    const Rgb text_color = luma > 140 ? Rgb{0, 0, 0} : Rgb{255, 255, 255};
    draw_text(img, r.x0 + margin, r.y0 + margin, label, text_color, text_height);
  }
}

}  // namespace spdinfer

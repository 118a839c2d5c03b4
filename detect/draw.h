// Drawing detections onto an RGB image the way YOLOv5's Annotator does: a box
// outline per detection in its class colour (YOLOv5's 20-colour palette) and
// a filled label "name 0.87" above it (inside when there is no room), white
// text on dark colours, black on light ones.
// Text uses stb_easy_font's segment font scaled up by whole pixels, so there
// is no font file to ship. What it is not: anti-aliased or a general canvas.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "detect/detection.h"
#include "image/image.h"

namespace spdinfer {

using Rgb = std::array<std::uint8_t, 3>;

// YOLOv5's utils/plots.py Colors: palette[class_id % 20], as RGB.
Rgb class_color(int class_id);

// YOLOv5's default line width: max(round((w + h) / 2 * 0.003), 2).
int default_line_width(int width, int height);

// Filled rectangle [x0, x1) x [y0, y1), clipped to the image.
void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb color);
// Outline of the box with corners (x1, y1), (x2, y2), `thickness` pixels
// centred on the edges as cv2.rectangle draws them, clipped.
void draw_box(Image& img, int x1, int y1, int x2, int y2, Rgb color, int thickness);

// Size in pixels of `text` drawn at integer `scale`; characters outside
// printable ASCII are drawn as '?'.
struct TextSize {
  int width = 0, height = 0;
};
TextSize text_size(const std::string& text, int scale);
// Top-left corner of the text's box at (x, y).
void draw_text(Image& img, int x, int y, const std::string& text, Rgb color, int scale);

// Boxes and labels for all detections (coordinates in img's pixels).
// line_width 0 = default_line_width.
void draw_detections(Image& img, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     int line_width = 0);

}  // namespace spdinfer

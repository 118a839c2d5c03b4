// Drawing detections onto an RGB image the way YOLOv5's Annotator does: a box
// outline per detection in its class colour (YOLOv5's 20-colour palette) and
// a filled label "name 0.87" above it (inside when there is no room), white
// text on dark colours, black on light ones. The text is antialiased TrueType
// (detect/text.h), sized from the line width as YOLOv5 sizes its font, so a
// 4000 px photo gets large, smooth labels. What it is not: a general canvas.
#pragma once

#include <string>
#include <vector>

#include "detect/detection.h"
#include "detect/text.h"
#include "image/image.h"

namespace spdinfer {

// YOLOv5's utils/plots.py Colors: palette[class_id % 20], as RGB.
Rgb class_color(int class_id);

// YOLOv5's default line width: max(round((w + h) / 2 * 0.003), 2).
int default_line_width(int width, int height);

// Pixel height (ascent to descent) of label text for a box line width. YOLOv5
// draws cv2's Hershey font at scale lw / 3, capitals about 7 * lw pixels tall;
// DejaVu's capitals are 0.63 of its pixel height, so 11 * lw matches them,
// with 12 px as the least that stays legible on thin lines.
int label_text_height(int line_width);

// Filled rectangle [x0, x1) x [y0, y1), clipped to the image.
void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb color);
// Outline of the box with corners (x1, y1), (x2, y2), `thickness` pixels
// centred on the edges as cv2.rectangle draws them, clipped.
void draw_box(Image& img, int x1, int y1, int x2, int y2, Rgb color, int thickness);

// The filled label around `label` in text of `text_height` pixels: the text's
// box with a margin of an eighth of the text height (at least 1 px) all round.
TextSize label_size(const std::string& label, int text_height);

// A rectangle [x0, x1) x [y0, y1) in image pixels.
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
// Where a width x height label goes for a box whose top-left corner is
// (box_x, box_y) in an image_width x image_height image. YOLOv5's rule: on
// top of the box when there is room above it, else inside under its top edge.
// Then moved into the image, so no edge cuts it; only a label wider (or
// taller) than the image itself sticks out, on the right (or bottom).
Rect place_label(int box_x, int box_y, int width, int height, int image_width, int image_height);

// How detections are drawn: YOLOv5's detect.py --line-thickness, --hide-labels, --hide-conf.
struct DrawStyle {
  int line_width = 0;  // box lines in pixels; 0 = default_line_width of the image
  bool hide_labels = false;
  bool hide_conf = false;  // labels say the class name alone
};

// Boxes and labels for all detections (coordinates in img's pixels), from the
// least confident to the most, every box before any label:
// on small, crowded objects labels overlap, and each is drawn opaque, so the
// label on top is whole and it belongs to the most confident detection
// (rather than text from several labels mixing into "persperson 0.7").
void draw_detections(Image& img, const std::vector<Detection>& dets, const std::vector<std::string>& names,
                     const DrawStyle& style = {});

}  // namespace spdinfer

// Tests of detect/draw: YOLOv5's palette and line width, box outlines,
// clipping at the image border, text rendering and label placement.
#include <catch2/catch.hpp>

#include "detect/draw.h"

using namespace spdinfer;

namespace {

bool is(const Image& img, int x, int y, Rgb c) {
  const std::uint8_t* p = img.at(x, y);
  return p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
}

int count_color(const Image& img, Rgb c) {
  int n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) n += is(img, x, y, c);
  return n;
}

}  // namespace

TEST_CASE("YOLOv5 palette and line width", "[draw]") {
  CHECK(class_color(0) == Rgb{0xFF, 0x38, 0x38});
  CHECK(class_color(5) == Rgb{0x48, 0xF9, 0x0A});
  CHECK(class_color(20) == class_color(0));
  CHECK(class_color(-1) == class_color(19));
  CHECK(default_line_width(810, 1080) == 3);
  CHECK(default_line_width(100, 100) == 2);
}

TEST_CASE("box outlines are centred on the edges and clipped", "[draw]") {
  const Rgb red{255, 0, 0};
  Image img(50, 40);
  draw_box(img, 10, 10, 30, 20, red, 2);
  CHECK(is(img, 9, 9, red));          // outside corner
  CHECK(is(img, 10, 10, red));        // inside corner
  CHECK(is(img, 20, 9, red));         // top edge
  CHECK(is(img, 30, 15, red));        // right edge
  CHECK_FALSE(is(img, 20, 15, red));  // interior untouched
  CHECK_FALSE(is(img, 20, 12, red));
  Image edge(20, 20);
  draw_box(edge, -5, -5, 100, 100, red, 3);  // nothing to crash on, nothing drawn outside
  CHECK(count_color(edge, red) == 0);
  draw_box(edge, 0, 0, 19, 19, red, 3);
  CHECK(is(edge, 0, 0, red));
  CHECK(is(edge, 19, 19, red));
}

TEST_CASE("text draws inside its measured box, non-ASCII safely", "[draw]") {
  const Rgb white{255, 255, 255};
  Image img(200, 40);
  const TextSize ts = text_size("person 0.87", 2);
  CHECK(ts.width > 0);
  CHECK(ts.height >= 14);
  draw_text(img, 5, 5, "person 0.87", white, 2);
  const int drawn = count_color(img, white);
  CHECK(drawn > 50);
  int outside = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (is(img, x, y, white) && (x < 5 || y < 5 || x >= 5 + ts.width || y >= 5 + ts.height)) ++outside;
  CHECK(outside == 0);
  Image other(60, 30);
  draw_text(other, 0, 0, "caf\xC3\xA9\x7F\x01", white, 1);  // UTF-8 and control bytes become '?'
  CHECK(count_color(other, white) > 0);
  draw_text(other, 50, 25, "clipped at the border", white, 3);
}

TEST_CASE("labels go above the box, or inside at the top edge", "[draw]") {
  const std::vector<std::string> names = {"person"};
  const Rgb color = class_color(0);
  Image img(300, 200);
  draw_detections(img, {{50, 100, 150, 180, 0.87f, 0}}, names, 2);
  CHECK(is(img, 51, 90, color));          // label background above the box
  CHECK_FALSE(is(img, 100, 140, color));  // box interior untouched
  Image top(300, 200);
  draw_detections(top, {{50, 0, 150, 180, 0.87f, 0}}, names, 2);
  CHECK(is(top, 51, 10, color));  // label inside, under the top edge
  Image none(10, 10);
  draw_detections(none, {}, names);
  CHECK(count_color(none, Rgb{0, 0, 0}) == 100);
}

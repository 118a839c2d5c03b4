// Tests of detect/draw and detect/text: YOLOv5's palette and line width, box
// outlines, clipping at the image border, TrueType text (antialiased, UTF-8,
// missing glyphs), label size, placement inside the image, stacking order and
// the detect command's drawing options.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

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

namespace {

const Rgb kWhite{255, 255, 255};

// Pixels that are neither black (the empty image) nor `except` (box and label fill): text ink.
int count_ink(const Image& img, Rgb except, const Rect& inside = {0, 0, 1 << 30, 1 << 30},
              bool invert = false) {
  int n = 0;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      const bool in = x >= inside.x0 && x < inside.x1 && y >= inside.y0 && y < inside.y1;
      if (in != invert && !is(img, x, y, Rgb{0, 0, 0}) && !is(img, x, y, except)) ++n;
    }
  return n;
}

Image text_image(const std::string& text, int height = 24) {
  const TextSize ts = text_size(text, height);
  Image img(std::max(ts.width, 1), ts.height);
  draw_text(img, 0, 0, text, kWhite, height);
  return img;
}

}  // namespace

TEST_CASE("text is antialiased and stays inside its measured box", "[draw]") {
  const TextSize ts = text_size("person 0.87", 20);
  CHECK(ts.width > 60);
  CHECK(ts.height >= 20);
  CHECK(text_size("person 0.87", 40).width > ts.width);
  Image img(200, 50);
  draw_text(img, 5, 5, "person 0.87", kWhite, 20);
  const Rect box{5, 5, 5 + ts.width, 5 + ts.height};
  CHECK(count_ink(img, Rgb{0, 0, 0}, box) > 100);
  CHECK(count_ink(img, Rgb{0, 0, 0}, box, true) == 0);
  CHECK(count_color(img, kWhite) > 20);                          // full coverage inside strokes
  CHECK(count_ink(img, kWhite) > count_color(img, kWhite) / 4);  // and blended edges
  Image edge(60, 30);
  draw_text(edge, 50, 20, "clipped at the border", kWhite, 30);  // nothing to crash on
  draw_text(edge, -500, -500, "far outside", kWhite, 30);
  CHECK(count_ink(edge, Rgb{0, 0, 0}, Rect{50, 20, 60, 30}, true) == 0);
}

TEST_CASE("non-ASCII names draw their own glyphs, the font's missing glyph, or U+FFFD", "[draw]") {
  const Image question = text_image("?");
  const Image e_acute = text_image("\xC3\xA9");  // é
  CHECK(count_ink(e_acute, {0, 0, 0}) > 0);
  CHECK(e_acute.pixels != text_image("e").pixels);
  CHECK(e_acute.pixels != question.pixels);
  const Image cat = text_image("\xE7\x8C\xAB");  // 猫: not in DejaVu Sans, drawn as its missing glyph
  CHECK(count_ink(cat, {0, 0, 0}) > 0);
  CHECK(cat.pixels != question.pixels);
  CHECK(text_image("\xE7\x8C").pixels == text_image("\xEF\xBF\xBD").pixels);  // invalid: U+FFFD
  CHECK(text_image("\xEF\xBF\xBD").pixels != question.pixels);
}

TEST_CASE("random bytes as a class name draw inside the label, never crash", "[draw]") {
  std::mt19937 rng(27);
  std::uniform_int_distribution<int> byte(0, 255), length(1, 16);
  for (int round = 0; round < 300; ++round) {
    std::string name(length(rng), '\0');
    for (char& c : name) c = static_cast<char>(byte(rng));
    Image img(120, 80);
    draw_detections(img, {{10, 40, 60, 70, 0.5f, 0}}, {name});
    const TextSize size = label_size(name + " 0.50", label_text_height(2));
    const Rect r = place_label(10, 40, size.width, size.height, 120, 80);
    REQUIRE(count_ink(img, class_color(0), r, true) == 0);
  }
}

TEST_CASE("text grows with the line width, as YOLOv5's font scale", "[draw]") {
  CHECK(label_text_height(1) == 12);  // the legible minimum
  CHECK(label_text_height(2) == 22);
  CHECK(label_text_height(default_line_width(4000, 3000)) >
        2 * label_text_height(default_line_width(640, 480)));
}

TEST_CASE("labels go above the box, or inside under its top, and never off the image", "[draw]") {
  CHECK(place_label(50, 100, 80, 20, 300, 200).y0 == 80);  // room above
  CHECK(place_label(50, 100, 80, 20, 300, 200).x0 == 50);
  CHECK(place_label(50, 10, 80, 20, 300, 200).y0 == 10);  // none: inside
  CHECK(place_label(-30, -5, 80, 20, 300, 200).x0 == 0);  // box partly off the image
  CHECK(place_label(-30, -5, 80, 20, 300, 200).y0 == 0);
  CHECK(place_label(280, 100, 80, 20, 300, 200).x1 == 300);  // shifted left at the right edge
  CHECK(place_label(50, 195, 80, 20, 300, 200).y1 <= 200);
  CHECK(place_label(50, 300, 80, 20, 300, 200).y1 == 200);    // box below the image
  const Rect wide = place_label(50, 100, 500, 20, 300, 200);  // wider than the image: start shown
  CHECK(wide.x0 == 0);
  CHECK(wide.x1 == 500);
}

TEST_CASE("a box touching each edge gets its whole label inside the image", "[draw]") {
  const std::vector<std::string> names = {"person"};
  const Rgb color = class_color(0);
  const int w = 200, h = 150;
  const Detection boxes[] = {{0, 60, 40, 100, 0.9f, 0},     // left
                             {170, 60, 199, 100, 0.9f, 0},  // right: no room for the label's width
                             {60, 0, 120, 40, 0.9f, 0},     // top: label inside
                             {60, 120, 120, 149, 0.9f, 0},  // bottom
                             {0, 0, 199, 149, 0.9f, 0}};    // all four
  for (const Detection& d : boxes) {
    Image img(w, h);
    draw_detections(img, {d}, names);
    const TextSize size = label_size("person 0.90", label_text_height(default_line_width(w, h)));
    const Rect r = place_label(static_cast<int>(d.x1), static_cast<int>(d.y1), size.width, size.height, w, h);
    CHECK(r.x0 >= 0);
    CHECK(r.y0 >= 0);
    CHECK(r.x1 <= w);
    CHECK(r.y1 <= h);
    CHECK(is(img, r.x0, r.y0, color));  // the label's corners are drawn: it is not cut
    CHECK(is(img, r.x1 - 1, r.y1 - 1, color));
    CHECK(count_ink(img, color, r) > 50);        // text inside the label
    CHECK(count_ink(img, color, r, true) == 0);  // and nowhere else
  }
}

TEST_CASE("line thickness, hidden labels and hidden confidences", "[draw]") {
  const std::vector<std::string> names = {"person"};
  const Rgb color = class_color(0);
  Image thick(300, 200);
  DrawStyle style;
  style.line_width = 5;
  style.hide_labels = true;
  draw_detections(thick, {{50, 100, 150, 180, 0.87f, 0}}, names, style);
  int run = 0;  // the left edge, across a row under the top line
  for (int x = 40; x < 60; ++x) run += is(thick, x, 150, color);
  CHECK(run == 5);
  Image bare(300, 200);
  draw_box(bare, 50, 100, 150, 180, color, 5);
  CHECK(thick.pixels == bare.pixels);  // --hide-labels: the box and nothing else

  const int height = label_text_height(2);
  CHECK(label_size("person", height).width < label_size("person 0.87", height).width);
  Image conf(300, 200), no_conf(300, 200);
  draw_detections(conf, {{50, 100, 150, 180, 0.87f, 0}}, names);
  DrawStyle hide_conf;
  hide_conf.hide_conf = true;
  draw_detections(no_conf, {{50, 100, 150, 180, 0.87f, 0}}, names, hide_conf);
  CHECK(count_color(no_conf, color) < count_color(conf, color));
  CHECK(count_ink(no_conf, color) < count_ink(conf, color));
}

TEST_CASE("overlapping labels: the most confident is drawn last, whole", "[draw]") {
  const std::vector<std::string> names = {"person", "bus"};
  const Detection low{52, 100, 90, 140, 0.3f, 1}, high{50, 100, 90, 140, 0.9f, 0};
  Image a(300, 200), b(300, 200), alone(300, 200);
  draw_detections(a, {low, high}, names);
  draw_detections(b, {high, low}, names);
  CHECK(a.pixels == b.pixels);  // the order of the list does not matter
  draw_detections(alone, {high}, names);
  const TextSize size = label_size("person 0.90", label_text_height(2));
  const Rect r = place_label(50, 100, size.width, size.height, 300, 200);
  for (int y = r.y0; y < r.y1; ++y)
    for (int x = r.x0; x < r.x1; ++x) REQUIRE(std::equal(a.at(x, y), a.at(x, y) + 3, alone.at(x, y)));
}

TEST_CASE("labels go above the box, or inside at the top edge", "[draw]") {
  const std::vector<std::string> names = {"person"};
  const Rgb color = class_color(0);
  Image img(300, 200);
  draw_detections(img, {{50, 100, 150, 180, 0.87f, 0}}, names);
  CHECK(is(img, 51, 80, color));          // label background above the box
  CHECK_FALSE(is(img, 100, 140, color));  // box interior untouched
  Image top(300, 200);
  draw_detections(top, {{50, 0, 150, 180, 0.87f, 0}}, names);
  CHECK(is(top, 51, 10, color));  // label inside, under the top edge
  Image none(10, 10);
  draw_detections(none, {}, names);
  CHECK(count_color(none, Rgb{0, 0, 0}) == 100);
}

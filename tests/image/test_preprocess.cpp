// Tests of image/preprocess: YOLOv5's letterbox geometry (the photos' cases,
// odd padding splits, round-half-even, minimal vs full padding), bilinear
// resizing against hand-computed cv2 / PIL values, the classifier geometry and
// normalisation.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <utility>

#include "image/preprocess.h"

using namespace spdinfer;

namespace {

Image row_image(const std::vector<int>& values) {
  Image img(static_cast<int>(values.size()), 1);
  for (std::size_t i = 0; i < values.size(); ++i)
    for (int c = 0; c < 3; ++c) img.pixels[i * 3 + c] = static_cast<std::uint8_t>(values[i]);
  return img;
}

std::vector<int> red_row(const Image& img, int y = 0) {
  std::vector<int> v;
  for (int x = 0; x < img.width; ++x) v.push_back(img.at(x, y)[0]);
  return v;
}

}  // namespace

TEST_CASE("letterbox geometry: the sample photos, odd splits, minimal vs full, rounding", "[preprocess]") {
  struct Case {
    const char* what;
    int src_w, src_h, target, stride;
    bool minimal;
    int resized_w, resized_h, out_w, out_h, pad_left, pad_top;
  };
  const Case cases[] = {
      {"bus.jpg: 810x1080 -> 480x640, no padding", 810, 1080, 640, 32, true, 480, 640, 480, 640, 0, 0},
      {"zidane.jpg: 24 rows of padding split 12/12", 1280, 720, 640, 32, true, 640, 360, 640, 384, 0, 12},
      // r = 0.64: 64 x round(28.8) = 29; dh = 35 % 32 = 3 -> top round(1.4) = 1, bottom round(1.6) = 2.
      {"odd padding: the extra row goes to the bottom", 100, 45, 64, 32, true, 64, 29, 64, 32, 0, 1},
      {"full padding (auto=False): dh 35 -> 17 / 18", 100, 45, 64, 32, false, 64, 29, 64, 64, 0, 17},
      {"Python's round: 5 * 0.5 = 2.5 -> 2", 100, 5, 50, 1, false, 50, 2, 50, 50, 0, 24},
      {"Python's round: 7 * 0.5 = 3.5 -> 4", 100, 7, 50, 1, false, 50, 4, 50, 50, 0, 23},
      {"odd columns: dw 3 -> left 1, right 2", 45, 100, 64, 32, true, 29, 64, 32, 64, 1, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const LetterboxGeometry g = letterbox_geometry(c.src_w, c.src_h, c.target, c.target, c.stride, c.minimal);
    CHECK(g.resized_w == c.resized_w);
    CHECK(g.resized_h == c.resized_h);
    CHECK(g.out_w == c.out_w);
    CHECK(g.out_h == c.out_h);
    CHECK(g.pad_left == c.pad_left);
    CHECK(g.pad_top == c.pad_top);
  }
  CHECK(letterbox_geometry(1280, 720, 640, 640, 32).ratio == Approx(0.5));
}

TEST_CASE("letterbox geometry: no upscaling, slivers, stride multiples", "[preprocess]") {
  SECTION("scaleup off keeps small images at their size") {
    const LetterboxGeometry g = letterbox_geometry(10, 10, 64, 64, 32, true, false);
    CHECK(g.resized_w == 10);
    CHECK(g.out_w == 32);
    CHECK(g.pad_left == 11);  // dw 22 -> 11 / 11
  }
  SECTION("a sliver image keeps at least one pixel") {
    const LetterboxGeometry g = letterbox_geometry(20000, 1, 640, 640, 32);
    CHECK(g.resized_h == 1);
    CHECK(g.out_h % 32 == 0);
  }
  SECTION("every output is a multiple of the stride when minimal") {
    for (int w : {1, 17, 333, 640, 1000, 4000})
      for (int h : {1, 31, 480, 777, 3000}) {
        const LetterboxGeometry g = letterbox_geometry(w, h, 640, 640, 32);
        CAPTURE(w, h);
        CHECK(g.out_w % 32 == 0);
        CHECK(g.out_h % 32 == 0);
        CHECK(std::max(g.resized_w, g.resized_h) == 640);
        CHECK(g.out_w <= 640);
        CHECK(g.out_h <= 640);
      }
  }
}

TEST_CASE("round_up_to_multiple rounds --img up to the stride", "[preprocess]") {
  CHECK(round_up_to_multiple(640, 32) == 640);
  CHECK(round_up_to_multiple(650, 32) == 672);
  CHECK(round_up_to_multiple(32, 32) == 32);
  CHECK(round_up_to_multiple(33, 64) == 64);
}

TEST_CASE("letterbox pads with grey 114 around the resized image", "[preprocess]") {
  Image src(40, 20, 200);
  const LetterboxGeometry g = letterbox_geometry(40, 20, 64, 64, 32, false);
  const Image out = letterbox(src, g);
  REQUIRE(out.width == 64);
  REQUIRE(out.height == 64);
  CHECK(g.pad_top == 16);
  CHECK(out.at(0, 0)[0] == 114);
  CHECK(out.at(63, 15)[1] == 114);
  CHECK(out.at(0, 16)[2] == 200);
  CHECK(out.at(63, 47)[0] == 200);
  CHECK(out.at(10, 48)[0] == 114);
}

TEST_CASE("bilinear resize matches cv2 INTER_LINEAR and PIL BILINEAR", "[preprocess]") {
  SECTION("enlarging: half-pixel centres, clamped edges (both modes agree)") {
    for (bool aa : {false, true}) {
      CAPTURE(aa);
      CHECK(red_row(resize_bilinear(row_image({0, 100}), 4, 1, aa)) == std::vector<int>{0, 25, 75, 100});
    }
  }
  SECTION("shrinking without antialias samples 2 taps (cv2)") {
    CHECK(red_row(resize_bilinear(row_image({0, 100, 200, 250}), 2, 1, false)) == std::vector<int>{50, 225});
  }
  SECTION("shrinking with antialias widens the filter (PIL gives 71 207 and 30 150 235)") {
    CHECK(red_row(resize_bilinear(row_image({0, 100, 200, 250}), 2, 1, true)) == std::vector<int>{71, 207});
    CHECK(red_row(resize_bilinear(row_image({0, 100, 200, 250}), 3, 1, true)) ==
          std::vector<int>{30, 150, 235});
  }
  SECTION("non-antialiased 4 -> 3 is torch's interpolate (16.67, 150, 241.67 rounded)") {
    CHECK(red_row(resize_bilinear(row_image({0, 100, 200, 250}), 3, 1, false)) ==
          std::vector<int>{17, 150, 242});
  }
  SECTION("vertical axis as horizontal") {
    Image col(1, 2);
    col.pixels = {0, 0, 0, 100, 100, 100};
    const Image out = resize_bilinear(col, 1, 4, false);
    CHECK(out.at(0, 1)[0] == 25);
    CHECK(out.at(0, 2)[0] == 75);
  }
  SECTION("a constant image stays constant at any scale") {
    Image flat(37, 23, 77);
    for (auto [w, h] : {std::pair{5, 3}, std::pair{100, 61}, std::pair{37, 1}})
      for (bool aa : {false, true}) {
        const Image out = resize_bilinear(flat, w, h, aa);
        CAPTURE(w, h, aa);
        CHECK(std::all_of(out.pixels.begin(), out.pixels.end(), [](std::uint8_t v) { return v == 77; }));
      }
  }
  SECTION("same size is a copy; empty sizes are errors") {
    const Image src = row_image({1, 2, 3});
    CHECK(resize_bilinear(src, 3, 1, true).pixels == src.pixels);
    CHECK_THROWS(resize_bilinear(src, 0, 1, false));
  }
}

TEST_CASE("classifier geometry: resize and resize_crop", "[preprocess]") {
  Preprocess p;
  p.height = p.width = 4;
  SECTION("resize goes straight to the input size") {
    p.resize = "resize";
    const Image out = resize_for_classifier(Image(10, 6, 9), p);
    CHECK(out.width == 4);
    CHECK(out.height == 4);
  }
  SECTION("resize_crop keeps the aspect and takes the centre") {
    p.resize = "resize_crop";
    // 8x4: shorter side 4 already, so no resize; centre crop columns 2..5.
    Image src(8, 4);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 8; ++x) src.at(x, y)[0] = static_cast<std::uint8_t>(x * 10);
    const Image out = resize_for_classifier(src, p);
    REQUIRE(out.width == 4);
    REQUIRE(out.height == 4);
    CHECK(red_row(out) == std::vector<int>{20, 30, 40, 50});
  }
  SECTION("input-sized images pass through untouched") {
    for (const char* mode : {"resize", "resize_crop", "letterbox"}) {
      p.resize = mode;
      Image src(4, 4);
      for (std::size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = static_cast<std::uint8_t>(i * 5);
      CAPTURE(mode);
      CHECK(resize_for_classifier(src, p).pixels == src.pixels);
    }
  }
  SECTION("resize_crop equals the centre of the whole resize, pixel for pixel") {
    p.resize = "resize_crop";
    p.height = 7;
    p.width = 5;
    for (auto [w, h] : {std::pair{61, 9}, std::pair{9, 61}, std::pair{13, 13}, std::pair{3, 2}}) {
      CAPTURE(w, h);
      Image src(w, h);
      for (std::size_t i = 0; i < src.pixels.size(); ++i) src.pixels[i] = static_cast<std::uint8_t>(i * 37 % 251);
      // The whole resize, as resize_crop described itself before computing only the window.
      const bool by_height = 7.0 / h >= 5.0 / w;
      const int nw = by_height ? std::max(5, static_cast<int>(7.0 * w / h)) : 5;
      const int nh = by_height ? 7 : std::max(7, static_cast<int>(5.0 * h / w));
      const Image whole = resize_bilinear(src, nw, nh, true);
      const int top = static_cast<int>(std::nearbyint((nh - 7) / 2.0)),
                left = static_cast<int>(std::nearbyint((nw - 5) / 2.0));
      const Image out = resize_for_classifier(src, p);
      REQUIRE(out.width == 5);
      REQUIRE(out.height == 7);
      for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 5; ++x)
          for (int c = 0; c < 3; ++c) CHECK(out.at(x, y)[c] == whole.at(x + left, y + top)[c]);
    }
  }
  SECTION("resize_crop of an extreme aspect ratio computes the crop only (found by fuzzing: a timeout)") {
    // Resizing 20000x1 to cover 64x64 whole would be 1.28 M x 64 pixels; the crop is 64x64.
    p.resize = "resize_crop";
    p.height = p.width = 64;
    const Image out = resize_for_classifier(Image(20000, 1, 77), p);
    CHECK(out.width == 64);
    CHECK(out.height == 64);
    CHECK(out.at(63, 63)[2] == 77);
  }
  SECTION("an unknown mode is an error") {
    p.resize = "stretch";
    CHECK_THROWS_WITH(resize_for_classifier(Image(4, 4), p), Catch::Contains("stretch"));
  }
}

TEST_CASE("image_to_tensor normalises per channel into NCHW", "[preprocess]") {
  Image img(2, 1);
  img.pixels = {255, 0, 10, 0, 255, 20};
  Preprocess p;
  p.scale = 1.0f / 255.0f;
  p.mean = {0.5f, 0.0f, 0.0f};
  p.std = {0.5f, 1.0f, 2.0f};
  const Tensor t = image_to_tensor(img, p);
  REQUIRE(t.shape() == Shape{1, 3, 1, 2});
  CHECK(t[0] == Approx(1.0f));   // R of pixel 0: (1 - 0.5) / 0.5
  CHECK(t[1] == Approx(-1.0f));  // R of pixel 1
  CHECK(t[2] == Approx(0.0f));   // G of pixel 0
  CHECK(t[3] == Approx(1.0f));
  CHECK(t[4] == Approx(10.0f / 255 / 2));
  CHECK(t[5] == Approx(20.0f / 255 / 2));
}

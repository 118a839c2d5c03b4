// Tests of detect/detection_pipeline with a stand-in detector (a forward
// function that boxes the white pixels of each input and counts its calls):
// tiles are batched (one forward per batch of --tile-batch tiles, plus one
// for the full-image pass), a white square cut by tile borders comes back as
// one box where it is, the plain pass is one forward, and a detector output
// of the wrong shape is an error.
#include <catch2/catch.hpp>

#include "detect/detection_pipeline.h"
#include "detect/slicing.h"
#include "engine/error.h"

using namespace spdinfer;

namespace {

constexpr int kClasses = 2;

// Finds the bounding box of the near-white pixels (channel 0 above 0.9 after
// scaling by 1/255) of each image in the batch and reports it as class 1 with
// confidence 0.9; a second row is empty. Records every batch size.
struct WhiteBoxDetector {
  std::vector<std::int64_t> batch_sizes;

  std::vector<Tensor> operator()(const Tensor& x) {
    batch_sizes.push_back(x.dim(0));
    const std::int64_t n = x.dim(0), h = x.dim(2), w = x.dim(3);
    Tensor out = Tensor::zeros({n, 2, 5 + kClasses});
    for (std::int64_t b = 0; b < n; ++b) {
      const float* red = x.data() + b * 3 * h * w;
      std::int64_t x1 = w, y1 = h, x2 = -1, y2 = -1;
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t c = 0; c < w; ++c)
          if (red[y * w + c] > 0.9f) {
            x1 = std::min(x1, c), y1 = std::min(y1, y);
            x2 = std::max(x2, c + 1), y2 = std::max(y2, y + 1);
          }
      if (x2 < 0) continue;
      float* row = out.data() + b * 2 * (5 + kClasses);
      row[0] = (x1 + x2) / 2.0f, row[1] = (y1 + y2) / 2.0f;
      row[2] = static_cast<float>(x2 - x1), row[3] = static_cast<float>(y2 - y1);
      row[4] = 0.9f, row[6] = 1.0f;
    }
    std::vector<Tensor> result;
    result.push_back(std::move(out));
    return result;
  }
};

Preprocess unit_scale() {
  Preprocess p;
  p.scale = 1.0f / 255;
  return p;
}

// A black image with a white rectangle [x1, x2) x [y1, y2).
Image square_image(int w, int h, int x1, int y1, int x2, int y2) {
  Image img(w, h, 0);
  for (int y = y1; y < y2; ++y)
    for (int x = x1; x < x2; ++x) std::fill_n(img.at(x, y), 3, std::uint8_t{255});
  return img;
}

DetectionPipelineOptions sliced(int slice, int tile_batch, bool full_pass) {
  DetectionPipelineOptions o;
  o.img_size = 320;
  o.slice.width = o.slice.height = slice;
  o.slice.tile_batch = tile_batch;
  o.slice.full_pass = full_pass;
  return o;
}

std::vector<Detection> run(WhiteBoxDetector& detector, const Image& img, const DetectionPipelineOptions& o,
                           DetectionReport* report) {
  return detect_objects(
      img, unit_scale(), o, [&](const Tensor& x) { return detector(x); }, report);
}

}  // namespace

TEST_CASE("Tiles are batched: one forward per batch of tiles, plus one for the full pass",
          "[detection_pipeline]") {
  const Image img = square_image(1000, 700, 500, 300, 560, 360);
  const std::size_t tiles = plan_tiles(1000, 700, 256, 256, 0.2).size();  // 5 x 4
  REQUIRE(tiles == 20);
  SECTION("batches of 8, progress after each") {
    WhiteBoxDetector detector;
    DetectionReport report;
    DetectionPipelineOptions o = sliced(256, 8, true);
    std::vector<std::pair<int, int>> progress;
    o.tile_progress = [&](int done, int total) { progress.emplace_back(done, total); };
    run(detector, img, o, &report);
    CHECK(progress == std::vector<std::pair<int, int>>{{8, 20}, {16, 20}, {20, 20}});
    CHECK(detector.batch_sizes == std::vector<std::int64_t>{8, 8, 4, 1});
    CHECK(report.forwards == 4);
    CHECK(report.tiles == 20);
    CHECK(report.input_w == 320);  // the tiles' network input
    CHECK(report.input_h == 320);
  }
  SECTION("all tiles in one batch, no full pass") {
    WhiteBoxDetector detector;
    DetectionReport report;
    run(detector, img, sliced(256, 64, false), &report);
    CHECK(detector.batch_sizes == std::vector<std::int64_t>{20});
    CHECK(report.forwards == 1);
    CHECK(report.tiles == 20);
  }
  SECTION("an image no larger than the slice runs once, as one tile") {
    WhiteBoxDetector detector;
    DetectionReport report;
    run(detector, square_image(200, 150, 10, 10, 50, 50), sliced(256, 8, true), &report);
    CHECK(detector.batch_sizes == std::vector<std::int64_t>{1});
    CHECK(report.tiles == 1);
  }
  SECTION("without slicing: the plain pass, one forward") {
    WhiteBoxDetector detector;
    DetectionReport report;
    DetectionPipelineOptions o = sliced(0, 8, true);
    const auto dets = run(detector, img, o, &report);
    CHECK(detector.batch_sizes == std::vector<std::int64_t>{1});
    CHECK(report.tiles == 0);
    CHECK(report.input_w == 320);
    CHECK(report.input_h == 224);  // YOLOv5's minimal rectangle for 1000x700
    REQUIRE(dets.size() == 1);
  }
}

TEST_CASE("A square cut by tile borders comes back as one box where it is", "[detection_pipeline]") {
  // Tiles of 256 with 51 px shared (starts 0, 205, 410, ...): the square spans
  // 180-300 in x and y, across the borders of four tiles.
  const Image img = square_image(800, 600, 180, 180, 300, 300);
  for (bool full_pass : {false, true}) {
    for (MergeMethod method : {MergeMethod::kNmm, MergeMethod::kNms}) {
      CAPTURE(full_pass, method == MergeMethod::kNmm);
      DetectionPipelineOptions o = sliced(256, 8, full_pass);
      o.slice.merge.method = method;
      WhiteBoxDetector detector;
      DetectionReport report;
      const auto dets = run(detector, img, o, &report);
      REQUIRE(dets.size() == 1);
      CHECK(dets[0].class_id == 1);
      CHECK(dets[0].confidence == Approx(0.9f));
      if (method == MergeMethod::kNmm) {  // NMS keeps one view, which may be a fragment
        CHECK(dets[0].x1 == Approx(180).margin(2));
        CHECK(dets[0].y1 == Approx(180).margin(2));
        CHECK(dets[0].x2 == Approx(300).margin(2));
        CHECK(dets[0].y2 == Approx(300).margin(2));
      }
    }
  }
}

TEST_CASE("Batched plain passes: one forward per letterboxed size, each image's own boxes",
          "[detection_pipeline]") {
  const Image a = square_image(1000, 700, 500, 300, 560, 360);
  const Image b = square_image(700, 1000, 100, 200, 180, 260);
  const Image c = square_image(1000, 700, 20, 30, 90, 100);
  const DetectionPipelineOptions o = sliced(0, 8, true);
  WhiteBoxDetector batched;
  std::vector<DetectionReport> reports;
  const auto got = detect_objects_batch(
      {&a, &b, &c}, unit_scale(), o, [&](const Tensor& x) { return batched(x); }, &reports);
  CHECK(batched.batch_sizes == std::vector<std::int64_t>{2, 1});  // a and c share 320x224
  REQUIRE(got.size() == 3);
  REQUIRE(reports.size() == 3);
  const Image* images[] = {&a, &b, &c};
  for (int i = 0; i < 3; ++i) {
    WhiteBoxDetector alone;
    DetectionReport alone_report;
    const auto expected = run(alone, *images[i], o, &alone_report);
    REQUIRE(got[i].size() == expected.size());
    CHECK(got[i][0].x1 == expected[0].x1);
    CHECK(got[i][0].y2 == expected[0].y2);
    CHECK(reports[i].input_h == alone_report.input_h);
  }
  CHECK(reports[0].forwards + reports[1].forwards + reports[2].forwards == 2);
  CHECK_THROWS_WITH(detect_objects_batch({&a}, unit_scale(), sliced(256, 8, true),
                                         [&](const Tensor& x) { return batched(x); }),
                    Catch::Matchers::Contains("sliced inference batches its tiles"));
}

TEST_CASE("A detector output of the wrong shape is an error, not a crash", "[detection_pipeline]") {
  const Image img = square_image(600, 600, 0, 0, 10, 10);
  auto one_row_per_call = [](const Tensor&) {
    std::vector<Tensor> out;
    out.push_back(Tensor::zeros({1, 4, 5 + kClasses}));  // batch 1 whatever came in
    return out;
  };
  CHECK_THROWS_AS(detect_objects(img, unit_scale(), sliced(256, 8, false), one_row_per_call), Error);
  auto nothing = [](const Tensor&) { return std::vector<Tensor>{}; };
  CHECK_THROWS_AS(detect_objects(img, unit_scale(), sliced(0, 8, false), nothing), Error);
}

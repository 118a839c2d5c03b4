// Tests of detect/detection: YOLOv5's NMS on crafted predictions (thresholds,
// best class, per-class vs agnostic, --classes, max-det, IoU boundary, NaN and
// infinite rows), box scaling back to the photo, and the printed summaries.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "detect/detection.h"

using namespace spdinfer;

namespace {

constexpr int kClasses = 3;
constexpr int kRow = 5 + kClasses;

// One prediction row: centre, size, objectness, class scores.
void add_row(std::vector<float>& pred, float xc, float yc, float w, float h, float obj,
             std::vector<float> cls) {
  pred.insert(pred.end(), {xc, yc, w, h, obj});
  cls.resize(kClasses, 0.0f);
  pred.insert(pred.end(), cls.begin(), cls.end());
}

std::vector<Detection> run(const std::vector<float>& pred, const NmsOptions& o = {}) {
  return non_max_suppression(pred.data(), static_cast<std::int64_t>(pred.size() / kRow), kRow, o);
}

}  // namespace

TEST_CASE("NMS keeps the best of overlapping boxes of one class", "[detection]") {
  std::vector<float> pred;
  add_row(pred, 50, 50, 20, 20, 0.9f, {0.9f});   // score 0.81
  add_row(pred, 52, 50, 20, 20, 0.95f, {0.9f});  // score 0.855: wins
  add_row(pred, 150, 50, 20, 20, 0.8f, {0.5f});  // far away, score 0.4
  const auto dets = run(pred);
  REQUIRE(dets.size() == 2);
  CHECK(dets[0].confidence == Approx(0.855f));
  CHECK(dets[0].x1 == Approx(42.0f));
  CHECK(dets[0].y1 == Approx(40.0f));
  CHECK(dets[0].x2 == Approx(62.0f));
  CHECK(dets[0].y2 == Approx(60.0f));
  CHECK(dets[1].confidence == Approx(0.4f));
}

TEST_CASE("NMS thresholds: objectness and score both above conf", "[detection]") {
  std::vector<float> pred;
  add_row(pred, 10, 10, 5, 5, 0.2f, {1.0f});        // objectness 0.2 <= 0.25
  add_row(pred, 30, 30, 5, 5, 0.5f, {0.4f});        // score 0.2 <= 0.25
  add_row(pred, 50, 50, 5, 5, 0.25f, {1.0f});       // objectness not strictly above
  add_row(pred, 70, 70, 5, 5, 0.6f, {0.1f, 0.5f});  // score 0.3, class 1
  const auto dets = run(pred);
  REQUIRE(dets.size() == 1);
  CHECK(dets[0].class_id == 1);
  CHECK(dets[0].confidence == Approx(0.3f));
}

TEST_CASE("NMS per class vs agnostic", "[detection]") {
  std::vector<float> pred;
  add_row(pred, 50, 50, 20, 20, 0.9f, {0.9f, 0.1f});
  add_row(pred, 51, 50, 20, 20, 0.9f, {0.1f, 0.8f});  // same place, class 1
  NmsOptions o;
  SECTION("per class: both stay") {
    const auto dets = run(pred, o);
    REQUIRE(dets.size() == 2);
    CHECK(dets[0].class_id == 0);
    CHECK(dets[1].class_id == 1);
  }
  SECTION("agnostic: the weaker one goes") {
    o.agnostic = true;
    const auto dets = run(pred, o);
    REQUIRE(dets.size() == 1);
    CHECK(dets[0].class_id == 0);
  }
}

TEST_CASE("NMS --classes filters on the best class only", "[detection]") {
  std::vector<float> pred;
  add_row(pred, 50, 50, 20, 20, 0.9f, {0.9f, 0.8f});   // best 0, class 1 would pass too
  add_row(pred, 150, 50, 20, 20, 0.9f, {0.0f, 0.9f});  // best 1
  add_row(pred, 250, 50, 20, 20, 0.9f, {0.0f, 0.0f, 0.9f});
  NmsOptions o;
  o.classes = {1, 2};
  const auto dets = run(pred, o);
  REQUIRE(dets.size() == 2);
  for (const auto& d : dets) CHECK(d.class_id != 0);
}

TEST_CASE("NMS max-det keeps the highest scores", "[detection]") {
  std::vector<float> pred;
  for (int i = 0; i < 20; ++i) add_row(pred, 30.0f * i, 10, 10, 10, 0.5f + 0.02f * i, {1.0f});
  NmsOptions o;
  o.max_det = 3;
  const auto dets = run(pred, o);
  REQUIRE(dets.size() == 3);
  CHECK(dets[0].confidence == Approx(0.88f));
  CHECK(dets[1].confidence == Approx(0.86f));
  CHECK(dets[2].confidence == Approx(0.84f));
}

TEST_CASE("NMS suppresses only IoU strictly above the threshold", "[detection]") {
  std::vector<float> pred;
  add_row(pred, 5, 5, 10, 10, 0.9f, {1.0f});   // [0,0,10,10]
  add_row(pred, 5, 2.5, 10, 5, 0.8f, {1.0f});  // [0,0,10,5]: IoU 0.5
  NmsOptions o;
  o.iou_threshold = 0.5f;
  CHECK(run(pred, o).size() == 2);
  o.iou_threshold = 0.49f;
  CHECK(run(pred, o).size() == 1);
  CHECK(box_iou({0, 0, 10, 10, 0, 0}, {0, 0, 10, 5, 0, 0}) == Approx(0.5f));
  CHECK(box_iou({0, 0, 10, 10, 0, 0}, {20, 20, 30, 30, 0, 0}) == 0.0f);
  CHECK(box_iou({0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}) == 0.0f);  // degenerate: no division by zero
}

TEST_CASE("NMS drops NaN and infinite rows and still sorts", "[detection]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> pred;
  for (int i = 0; i < 50; ++i) {
    add_row(pred, nan, 10, 10, 10, 0.9f, {0.9f});      // NaN centre
    add_row(pred, 10, 10, 10, 10, nan, {0.9f});        // NaN objectness
    add_row(pred, 10, 10, 10, 10, 0.9f, {nan, 0.9f});  // NaN class score
    add_row(pred, 10, 10, inf, 10, 0.9f, {0.9f});      // infinite width
    add_row(pred, 40.0f * i, 100, 10, 10, 0.3f + 0.01f * i, {1.0f});
  }
  const auto dets = run(pred);
  REQUIRE(dets.size() == 50);
  for (std::size_t i = 0; i < dets.size(); ++i) {
    CHECK(std::isfinite(dets[i].x1));
    CHECK(std::isfinite(dets[i].x2));
    if (i) CHECK(dets[i - 1].confidence >= dets[i].confidence);
  }
}

TEST_CASE("NMS on nothing or all-below-threshold gives nothing", "[detection]") {
  CHECK(run({}).empty());
  std::vector<float> pred;
  add_row(pred, 10, 10, 10, 10, 0.1f, {0.1f});
  CHECK(run(pred).empty());
}

TEST_CASE("boxes scale back to the photo as YOLOv5's scale_boxes", "[detection]") {
  const LetterboxGeometry g = letterbox_geometry(1280, 720, 640, 640, 32);  // 640x384, 12 rows pad at top
  std::vector<Detection> dets = {{100, 112, 200, 212, 0.5f, 0}, {-10, 0, 700, 400, 0.5f, 1}};
  scale_boxes_to_source(dets, g);
  CHECK(dets[0].x1 == Approx(200));
  CHECK(dets[0].y1 == Approx(200));
  CHECK(dets[0].x2 == Approx(400));
  CHECK(dets[0].y2 == Approx(400));
  // Clipped to the image.
  CHECK(dets[1].x1 == 0.0f);
  CHECK(dets[1].y1 == 0.0f);
  CHECK(dets[1].x2 == 1280.0f);
  CHECK(dets[1].y2 == 720.0f);
}

TEST_CASE("detection summaries and YOLO label lines", "[detection]") {
  const std::vector<std::string> names = {"person", "bicycle", "bus"};
  std::vector<Detection> dets = {{0, 0, 1, 1, 0.9f, 2}, {0, 0, 1, 1, 0.8f, 0}, {0, 0, 1, 1, 0.7f, 0}};
  CHECK(detection_counts(dets, names) == "2 persons, 1 bus, ");
  CHECK(detection_counts({}, names) == "(no detections), ");
  CHECK(detection_counts({{0, 0, 1, 1, 0.5f, 7}}, names) == "1 class7, ");
  CHECK(detection_counts({{0, 0, 1, 1, 0.5f, 7}, {0, 0, 1, 1, 0.4f, 7}}, names) == "2 class7, ");
  dets.push_back({0, 0, 1, 1, 0.6f, 2});
  CHECK(detection_counts(dets, names) == "2 persons, 2 buses, ");
  CHECK(yolo_label_line({10, 20, 30, 60, 0.5f, 3}, 100, 200, false) == "3 0.2 0.2 0.2 0.2");
  CHECK(yolo_label_line({10, 20, 30, 60, 0.5f, 3}, 100, 200, true) == "3 0.2 0.2 0.2 0.2 0.5");
}

TEST_CASE("plural class names: the regular English rules where they are safe", "[detection]") {
  CHECK(plural_noun("person") == "persons");  // what YOLOv5 prints
  CHECK(plural_noun("car") == "cars");
  CHECK(plural_noun("bus") == "buses");
  CHECK(plural_noun("Dress") == "Dresses");
  CHECK(plural_noun("box") == "boxes");
  CHECK(plural_noun("waltz") == "waltzes");
  CHECK(plural_noun("watch") == "watches");
  CHECK(plural_noun("toothbrush") == "toothbrushes");
  CHECK(plural_noun("butterfly") == "butterflies");
  CHECK(plural_noun("toy") == "toys");
  CHECK(plural_noun("teddy bear") == "teddy bears");
  CHECK(plural_noun("BUS") == "BUSES");
  CHECK(plural_noun("PUPPY") == "PUPPIES");
  // Already plural, or no English ending to extend: unchanged.
  CHECK(plural_noun("skis") == "skis");
  CHECK(plural_noun("scissors") == "scissors");
  CHECK(plural_noun("class7") == "class7");
  CHECK(plural_noun("\xe7\x8c\xab") == "\xe7\x8c\xab");  // a name in Chinese
  CHECK(plural_noun("") == "");
  CHECK(plural_noun("a\n") == "a\n");
}

// COCO-style detection AP on crafted cases whose values follow by hand from
// COCO's definition (101-point interpolated precision, IoU 0.50:0.95, area
// ranges, ignored objects and detections).
#include <catch2/catch.hpp>
#include <vector>

#include "engine/error.h"
#include "eval/detection_metrics.h"

using namespace spdinfer;

namespace {

LabelledBox truth(int c, double x, double y, double w, double h) { return {x, y, x + w, y + h, c}; }
Detection det(int c, double x, double y, double w, double h, float score) {
  Detection d;
  d.x1 = static_cast<float>(x);
  d.y1 = static_cast<float>(y);
  d.x2 = static_cast<float>(x + w);
  d.y2 = static_cast<float>(y + h);
  d.confidence = score;
  d.class_id = c;
  return d;
}

}  // namespace

TEST_CASE("Detection metrics: thresholds and IoU", "[detection_metrics]") {
  CHECK(iou_threshold(0) == 0.5);
  CHECK(iou_threshold(9) == 0.95);
  CHECK(iou_threshold(5) == Approx(0.75));
  CHECK(recall_threshold(0) == 0.0);
  CHECK(recall_threshold(100) == 1.0);
  CHECK(recall_threshold(37) == Approx(0.37));
  CHECK(box_iou_xyxy(0, 0, 10, 10, 5, 0, 15, 10) == Approx(50.0 / 150.0));
  CHECK(box_iou_xyxy(0, 0, 10, 10, 20, 20, 30, 30) == 0.0);
  CHECK(box_iou_xyxy(0, 0, 0, 0, 0, 0, 0, 0) == 0.0);  // empty boxes: no division by zero
}

TEST_CASE("Detection metrics: perfect predictions score 1 in every range", "[detection_metrics]") {
  DetectionEvaluator ev(3);
  ev.add_image({truth(0, 10, 10, 20, 20), truth(1, 100, 100, 50, 50)},
               {det(0, 10, 10, 20, 20, 0.9f), det(1, 100, 100, 50, 50, 0.8f)});
  ev.add_image({truth(1, 0, 0, 120, 120), truth(0, 200, 10, 8, 8)},
               {det(1, 0, 0, 120, 120, 0.7f), det(0, 200, 10, 8, 8, 0.3f)});
  const DetectionMetrics m = ev.compute();
  CHECK(m.map50 == Approx(1.0));
  CHECK(m.map50_95 == Approx(1.0));
  CHECK(m.map_area[kAreaSmall] == Approx(1.0));
  CHECK(m.map_area[kAreaMedium] == Approx(1.0));
  CHECK(m.map_area[kAreaLarge] == Approx(1.0));
  CHECK(m.objects[kAreaAll] == 4);
  CHECK(m.objects[kAreaSmall] == 2);
  CHECK(m.objects[kAreaMedium] == 1);
  CHECK(m.objects[kAreaLarge] == 1);
  CHECK(m.per_class[2].ap50() == -1);  // no objects of class 2: left out of the means
  CHECK(m.per_class[0].images == 2);
  CHECK(m.images == 2);
  CHECK(m.detections == 4);
}

TEST_CASE("Detection metrics: a missed object caps recall", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  ev.add_image({truth(0, 0, 0, 20, 20), truth(0, 50, 50, 20, 20)}, {det(0, 0, 0, 20, 20, 0.9f)});
  const DetectionMetrics m = ev.compute();
  // Precision 1 up to recall 0.5: recall thresholds 0.00-0.50 are 51 of 101.
  CHECK(m.map50 == Approx(51.0 / 101.0));
  CHECK(m.map50_95 == Approx(51.0 / 101.0));
}

TEST_CASE("Detection metrics: a false positive costs precision only when it outranks", "[detection_metrics]") {
  SECTION("above the true positive: precision 1/2 at every recall") {
    DetectionEvaluator ev(1);
    ev.add_image({truth(0, 0, 0, 20, 20)}, {det(0, 60, 60, 20, 20, 0.9f), det(0, 0, 0, 20, 20, 0.8f)});
    CHECK(ev.compute().map50 == Approx(0.5));
  }
  SECTION("below it: nothing lost") {
    DetectionEvaluator ev(1);
    ev.add_image({truth(0, 0, 0, 20, 20)}, {det(0, 60, 60, 20, 20, 0.1f), det(0, 0, 0, 20, 20, 0.8f)});
    CHECK(ev.compute().map50 == Approx(1.0));
  }
  SECTION("wrong class: a false positive of its class, a miss of the true one") {
    DetectionEvaluator ev(2);
    ev.add_image({truth(0, 0, 0, 20, 20), truth(1, 40, 0, 20, 20)},
                 {det(1, 0, 0, 20, 20, 0.9f), det(1, 40, 0, 20, 20, 0.5f)});
    const DetectionMetrics m = ev.compute();
    CHECK(m.per_class[0].ap50() == 0.0);
    CHECK(m.per_class[1].ap50() == Approx(0.5));
    CHECK(m.map50 == Approx(0.25));
  }
  SECTION("images without objects of a class still count its detections") {
    DetectionEvaluator ev(1);
    ev.add_image({truth(0, 0, 0, 20, 20)}, {det(0, 0, 0, 20, 20, 0.5f)});
    ev.add_image({}, {det(0, 0, 0, 20, 20, 0.9f)});
    CHECK(ev.compute().map50 == Approx(0.5));
  }
}

TEST_CASE("Detection metrics: a duplicate is a false positive", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  ev.add_image({truth(0, 0, 0, 20, 20), truth(0, 50, 0, 20, 20)},
               {det(0, 0, 0, 20, 20, 0.9f), det(0, 1, 0, 20, 20, 0.8f), det(0, 50, 0, 20, 20, 0.7f)});
  // Points (recall, precision): (.5, 1), (.5, .5), (1, 2/3); interpolated: 1 up to recall .5
  // (51 thresholds), then 2/3 (50 thresholds).
  CHECK(ev.compute().map50 == Approx((51.0 + 50.0 * 2.0 / 3.0) / 101.0));
}

TEST_CASE("Detection metrics: IoU thresholds 0.50:0.95", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  // A 100x100 object and a box shifted by 16 px: IoU 84*100 / (2*10000 - 8400) = 0.7241,
  // a match at 0.50, 0.55, 0.60, 0.65, 0.70 (5 of the 10 thresholds).
  ev.add_image({truth(0, 0, 0, 100, 100)}, {det(0, 16, 0, 100, 100, 0.9f)});
  const DetectionMetrics m = ev.compute();
  CHECK(m.map50 == Approx(1.0));
  CHECK(m.map75 == 0.0);
  CHECK(m.map50_95 == Approx(0.5));
  CHECK(m.per_class[0].ap[kAreaAll][4] == Approx(1.0));
  CHECK(m.per_class[0].ap[kAreaAll][5] == 0.0);
}

TEST_CASE("Detection metrics: area ranges ignore objects and detections of other sizes", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  ev.add_image({truth(0, 0, 0, 20, 20),      // small (400)
                truth(0, 100, 0, 32, 32),    // small and medium: COCO's bounds are inclusive at both ends
                truth(0, 200, 0, 50, 50),    // medium
                truth(0, 300, 0, 100, 100)}, // large, missed
               {det(0, 500, 500, 200, 200, 0.95f),  // large false positive
                det(0, 0, 0, 20, 20, 0.9f), det(0, 100, 0, 32, 32, 0.8f), det(0, 200, 0, 50, 50, 0.7f)});
  const DetectionMetrics m = ev.compute();
  CHECK(m.objects[kAreaSmall] == 2);
  CHECK(m.objects[kAreaMedium] == 2);
  CHECK(m.objects[kAreaLarge] == 1);
  // Small and medium: the large false positive is outside their range, so ignored.
  CHECK(m.map_area[kAreaSmall] == Approx(1.0));
  CHECK(m.map_area[kAreaMedium] == Approx(1.0));
  // Large: one object, one false positive, nothing found.
  CHECK(m.map_area[kAreaLarge] == 0.0);
  // All: FP first, then three hits of four objects: precision 3/4 after the third hit, which is
  // the envelope from recall 0 to 0.75 (76 thresholds).
  CHECK(m.map50 == Approx(76.0 * 0.75 / 101.0));
}

TEST_CASE("Detection metrics: a match to an object of another size is ignored, not false", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  // A 40x40 (medium) object found by a 30x30 box (small, IoU 0.5625) and a small object found.
  ev.add_image({truth(0, 0, 0, 40, 40), truth(0, 100, 0, 10, 10)},
               {det(0, 0, 0, 30, 30, 0.9f), det(0, 100, 0, 10, 10, 0.8f)});
  const DetectionMetrics m = ev.compute();
  // Small range, IoU 0.50 and 0.55: the first detection matches the ignored medium object, so it
  // neither helps nor hurts. From 0.60 it matches nothing and, being small itself, is a false
  // positive ranked above the hit: precision 1/2.
  CHECK(m.per_class[0].ap[kAreaSmall][0] == Approx(1.0));
  CHECK(m.per_class[0].ap[kAreaSmall][1] == Approx(1.0));
  CHECK(m.per_class[0].ap[kAreaSmall][2] == Approx(0.5));
  CHECK(m.map_area[kAreaSmall] == Approx((2 * 1.0 + 8 * 0.5) / 10));
  CHECK(m.per_class[0].ap[kAreaMedium][0] == Approx(1.0));
  CHECK(m.per_class[0].ap[kAreaMedium][2] == 0.0);  // IoU 0.5625 < 0.60
}

TEST_CASE("Detection metrics: detections per image and class are capped", "[detection_metrics]") {
  DetectionEvaluator ev(1, 1);
  ev.add_image({truth(0, 0, 0, 20, 20), truth(0, 50, 0, 20, 20)},
               {det(0, 50, 0, 20, 20, 0.5f), det(0, 0, 0, 20, 20, 0.9f)});
  CHECK(ev.compute().map50 == Approx(51.0 / 101.0));  // only the 0.9 one is kept
}

TEST_CASE("Detection metrics: classes out of range are refused", "[detection_metrics]") {
  DetectionEvaluator ev(2);
  CHECK_THROWS_AS(ev.add_image({truth(2, 0, 0, 1, 1)}, {}), Error);
  CHECK_THROWS_AS(ev.add_image({}, {det(-1, 0, 0, 1, 1, 0.5f)}), Error);
  CHECK_THROWS_AS(DetectionEvaluator(0), Error);
  CHECK(DetectionEvaluator(2).compute().map50 == -1);  // nothing to find
}

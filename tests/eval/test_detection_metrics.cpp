// COCO-style detection AP on crafted cases whose values follow by hand from
// COCO's definition (101-point interpolated precision, IoU 0.50:0.95, area
// ranges, ignored objects and detections); and the data of val's figures
// (PR curve, confidence curves, YOLOv5's confusion matrix) on the same kind of cases.
#include <catch2/catch.hpp>
#include <vector>

#include "engine/error.h"
#include "eval/confidence_curves.h"
#include "eval/confusion_matrix.h"
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

TEST_CASE("Detection metrics: the PR curve's mean is AP50, the ranking carries the matches", "[detection_metrics]") {
  DetectionEvaluator ev(1);
  ev.add_image({truth(0, 0, 0, 20, 20), truth(0, 50, 50, 20, 20)},
               {det(0, 60, 60, 20, 20, 0.9f), det(0, 0, 0, 20, 20, 0.8f)});
  const DetectionMetrics m = ev.compute();
  const auto& pr = m.per_class[0].precision50;
  double sum = 0;
  for (double p : pr) sum += p;
  CHECK(sum / kRecallThresholds == Approx(m.per_class[0].ap50()));
  CHECK(pr[0] == Approx(0.5));    // the true positive comes second: precision 1/2 up to recall 0.5
  CHECK(pr[50] == Approx(0.5));
  CHECK(pr[51] == 0.0);           // recall never passes 0.5
  const auto ranked = ev.ranked_at_iou50(0);
  REQUIRE(ranked.size() == 2);
  CHECK((ranked[0].score == 0.9f && !ranked[0].true_positive));
  CHECK((ranked[1].score == 0.8f && ranked[1].true_positive));
  CHECK_THROWS_AS(ev.ranked_at_iou50(1), Error);
}

TEST_CASE("Confidence curves: numpy.interp over the ranked detections", "[confidence_curves]") {
  // Scores exact in float; 4 objects. Cumulative precision 1, 1/2, 2/3; recall 1/4, 1/4, 1/2.
  const std::vector<DetectionEvaluator::RankedDetection> ranked = {{0.875f, true}, {0.75f, false}, {0.5f, true}};
  const ConfidenceCurves c = confidence_curves(ranked, 4);
  REQUIRE(c.precision.size() == static_cast<std::size_t>(kConfidencePoints));
  CHECK(confidence_threshold(0) == 0.0);
  CHECK(confidence_threshold(kConfidencePoints - 1) == 1.0);
  // Above the highest score: precision 1, recall 0, F1 0.
  CHECK(c.precision.back() == 1.0);
  CHECK(c.recall.back() == 0.0);
  CHECK(c.f1.back() == Approx(0.0));
  // Below the lowest: the last point's values.
  CHECK(c.precision[0] == Approx(2.0 / 3));
  CHECK(c.recall[0] == Approx(0.5));
  CHECK(c.f1[0] == Approx(2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5)));
  // Between 0.875 and 0.75: linear in the score.
  const int i = 800;  // threshold 0.8008
  const double t = confidence_threshold(i), along = (0.875 - t) / 0.125;
  CHECK(c.precision[i] == Approx(1.0 + along * (0.5 - 1.0)));
  CHECK(c.recall[i] == Approx(0.25));
  // No objects, or no detections: all zero, as YOLOv5 leaves them.
  CHECK(confidence_curves(ranked, 0).precision[0] == 0.0);
  CHECK(confidence_curves({}, 4).recall[0] == 0.0);
}

TEST_CASE("Confusion matrix: paired, misclassified, missed and false detections", "[confusion_matrix]") {
  ConfusionMatrix cm(2);
  cm.add_image({truth(0, 0, 0, 20, 20), truth(1, 50, 0, 20, 20), truth(1, 100, 0, 20, 20)},
               {det(0, 0, 0, 20, 20, 0.9f),      // right class
                det(0, 50, 0, 20, 20, 0.8f),     // on an object of class 1, says 0
                det(1, 100, 0, 20, 20, 0.2f),    // under conf 0.25: the object is missed
                det(1, 300, 300, 20, 20, 0.7f)});  // on nothing
  cm.add_image({}, {det(0, 0, 0, 10, 10, 0.6f), det(1, 0, 0, 10, 10, 0.25f)});  // 0.25 is not above 0.25
  const auto& n = cm.counts();
  REQUIRE(n.size() == 3);
  CHECK(n[0][0] == 1);
  CHECK(n[0][1] == 1);
  CHECK(n[2][1] == 1);  // missed: background row
  CHECK(n[1][2] == 1);  // false detection: background column
  CHECK(n[0][2] == 1);  // from the image without objects
  int64_t total = 0;
  for (const auto& row : n)
    for (int64_t v : row) total += v;
  CHECK(total == 5);
  CHECK_THROWS_AS(cm.add_image({truth(2, 0, 0, 5, 5)}, {}), Error);
}

TEST_CASE("Confusion matrix: each detection keeps its best object first, as YOLOv5", "[confusion_matrix]") {
  // Objects A and B overlap. d1 is nearest A (IoU 0.92), then B (0.89); d2 is A itself. d2 takes
  // A; d1 is not offered B, its second best: B is missed and d1 counts as a false detection.
  ConfusionMatrix cm(1);
  cm.add_image({truth(0, 0, 0, 10, 10), truth(0, 1, 0, 10, 10)},
               {det(0, 0.4, 0, 10, 10, 0.9f), det(0, 0, 0, 10, 10, 0.8f)});
  const auto& n = cm.counts();
  CHECK(n[0][0] == 1);
  CHECK(n[1][0] == 1);
  CHECK(n[0][1] == 1);
}

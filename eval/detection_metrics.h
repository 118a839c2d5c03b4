// Detection accuracy as COCO defines it (pycocotools' COCOeval, bounding
// boxes): average precision per class at IoU thresholds 0.50:0.05:0.95,
// 101-point interpolated, for all objects and for small (area <= 32^2),
// medium (32^2-96^2) and large (> 96^2) ones; each figure averaged over the
// classes that have objects of that size.
// The rules that decide the numbers, all COCO's:
// - per image and class, detections by descending score (ties keep their
//   order), at most max_dets of them; each is matched greedily to the
//   unmatched ground truth box of highest IoU >= the threshold, objects
//   outside the area range being matched last and making their match ignored;
// - an unmatched detection whose own area is outside the range is ignored;
// - over all images, detections of a class sorted by score (stable, images in
//   the order given); precision made non-increasing from the right; at each
//   recall r in 0, 0.01, ..., 1 the precision of the first point reaching r
//   (0 if none).
// Areas are box areas (w * h) in the pixels of the original image.
// What it is not: running a model, reading labels or printing (the CLI).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "detect/detection.h"

namespace spdinfer {

struct LabelledBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // corners, original-image pixels
  int class_id = 0;
};

enum AreaRange { kAreaAll = 0, kAreaSmall, kAreaMedium, kAreaLarge, kAreaRanges };
constexpr std::array<const char*, kAreaRanges> kAreaNames = {"all", "small", "medium", "large"};
// COCO's bounds (inclusive at both ends, as COCOeval compares).
constexpr double kSmallArea = 32.0 * 32.0, kMediumArea = 96.0 * 96.0, kAreaMax = 1e5 * 1e5;
constexpr int kIouThresholds = 10;    // 0.50, 0.55, ..., 0.95
constexpr int kRecallThresholds = 101;  // 0.00, 0.01, ..., 1.00

// IoU threshold t (0-9) and recall threshold r (0-100) as numpy.linspace makes them.
double iou_threshold(int t);
double recall_threshold(int r);
// Intersection over union of two corner boxes; 0 when the union is empty.
double box_iou_xyxy(double ax1, double ay1, double ax2, double ay2, double bx1, double by1, double bx2, double by2);

// Results: AP values in [0, 1], or -1 where there was no object to find.
struct ClassAp {
  std::array<std::array<double, kIouThresholds>, kAreaRanges> ap{};  // per area range and IoU threshold
  std::array<int64_t, kAreaRanges> objects{};                          // ground truth boxes in each range
  int64_t images = 0;                                                  // images with an object of the class
  // The interpolated precision at each recall threshold, IoU 0.5, all areas: ap50() is its mean
  // (the PR curve val --plots draws).
  std::array<double, kRecallThresholds> precision50{};
  double ap50() const { return ap[kAreaAll][0]; }
  double ap50_95(AreaRange area = kAreaAll) const;  // mean over the thresholds (-1 without objects)
};

struct DetectionMetrics {
  std::vector<ClassAp> per_class;
  // Means over the classes with objects in the range (-1 when none has).
  double map50 = -1, map75 = -1, map50_95 = -1;
  std::array<double, kAreaRanges> map_area{{-1, -1, -1, -1}};  // mAP@0.5:0.95 per area range
  std::array<int64_t, kAreaRanges> objects{};
  int64_t images = 0, detections = 0;
};

class DetectionEvaluator {
 public:
  explicit DetectionEvaluator(int num_classes, int max_dets = 100);

  // One image: its labelled boxes and the model's detections (original-image
  // pixels). Throws spdinfer::Error for a class id outside [0, num_classes).
  void add_image(const std::vector<LabelledBox>& truth, const std::vector<Detection>& detections);
  DetectionMetrics compute() const;

  // Class c's kept detections (all areas) in the order AP ranks them, highest score first, each
  // with whether it is a true positive at IoU 0.5: the data of the confidence curves.
  struct RankedDetection {
    float score;
    bool true_positive;
  };
  std::vector<RankedDetection> ranked_at_iou50(int c) const;

  int num_classes() const { return num_classes_; }

 private:
  struct Scored {  // one kept detection of one class, for one area range
    float score;
    std::uint16_t matched;  // bit t: a true positive at IoU threshold t
    std::uint16_t ignored;  // bit t: neither true nor false positive at threshold t
  };
  void add_class(int c, const std::vector<const LabelledBox*>& truth, std::vector<const Detection*> dets);
  std::vector<Scored> ranked(int c, int range) const;  // by score, highest first (stable)

  int num_classes_, max_dets_;
  int64_t images_ = 0, detections_ = 0;
  // [class][area]: kept detections in evaluation order, and objects that count.
  std::vector<std::array<std::vector<Scored>, kAreaRanges>> scored_;
  std::vector<std::array<int64_t, kAreaRanges>> counted_;
  std::vector<int64_t> class_images_;
};

}  // namespace spdinfer

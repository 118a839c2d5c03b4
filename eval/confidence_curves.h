// Precision, recall and F1 of one class as functions of the confidence threshold, as YOLOv5's
// val.py computes them for its P/R/F1-confidence figures (utils/metrics.py, ap_per_class):
// detections ranked by score with their true-positive flags at IoU 0.5; at each of 1000 thresholds
// 0, 1/999, ..., 1 the cumulative precision and recall interpolated linearly in the score
// (numpy.interp over the negated scores): recall 0 and precision 1 above the highest score, the
// last point's values below the lowest.
// What it is not: matching detections to objects (eval/detection_metrics.h does that).
#pragma once

#include <cstdint>
#include <vector>

#include "eval/detection_metrics.h"

namespace spdinfer {

constexpr int kConfidencePoints = 1000;

double confidence_threshold(int i);  // i / 999, as numpy.linspace(0, 1, 1000)

struct ConfidenceCurves {
  // kConfidencePoints values each, at confidence_threshold(i); all 0 when there are no objects or
  // no detections (as YOLOv5 leaves them).
  std::vector<double> precision, recall, f1;
};

ConfidenceCurves confidence_curves(const std::vector<DetectionEvaluator::RankedDetection>& ranked, int64_t objects);

}  // namespace spdinfer

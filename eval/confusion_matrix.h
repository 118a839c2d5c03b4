// The confusion matrix YOLOv5's val.py draws (utils/metrics.py, ConfusionMatrix): per image, the
// detections above a confidence threshold are paired with labelled objects of any class by IoU
// above a threshold, each object and each detection at most once, pairs of highest IoU first;
// a paired object counts at [detected class][true class], an object left unpaired at
// [background][true class] (missed), a detection left unpaired at [detected class][background]
// (a false detection). Rows are detected classes, columns true classes, the last of each the
// background. Unlike YOLOv5, unpaired detections count in an image where nothing was paired too.
// What it is not: AP (eval/detection_metrics.h) or drawing (the figure is eval/plots.py's).
#pragma once

#include <cstdint>
#include <vector>

#include "detect/detection.h"
#include "eval/detection_metrics.h"

namespace spdinfer {

class ConfusionMatrix {
 public:
  // YOLOv5 val.py's thresholds: detections above conf 0.25, pairs above IoU 0.45.
  explicit ConfusionMatrix(int num_classes, double conf_threshold = 0.25, double iou_threshold = 0.45);

  // One image. Throws spdinfer::Error for a class id outside [0, num_classes).
  void add_image(const std::vector<LabelledBox>& truth, const std::vector<Detection>& detections);

  int num_classes() const { return num_classes_; }
  double conf_threshold() const { return conf_threshold_; }
  double iou_threshold() const { return iou_threshold_; }
  // counts()[detected][true], num_classes + 1 square; index num_classes is the background.
  const std::vector<std::vector<int64_t>>& counts() const { return counts_; }

 private:
  int num_classes_;
  double conf_threshold_, iou_threshold_;
  std::vector<std::vector<int64_t>> counts_;
};

}  // namespace spdinfer

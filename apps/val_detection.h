// `spdinfer val` for YOLOv5-family detectors: COCO mAP@0.5, mAP@0.5:0.95 and
// AP by object size over a YOLO-format dataset (eval/detection_dataset.h,
// eval/detection_metrics.h). cmd_val.cpp dispatches here when the model is a
// detector; classifiers keep their own path there. Each image goes through
// models/detector exactly as `spdinfer detect` runs it, sliced or not.
#pragma once

#include <string>

#include "detect/detection_pipeline.h"
#include "models/detector.h"

namespace spdinfer::cli {

struct DetectionValOptions {
  std::string model, dataset, split = "val", predictions;
  int img = 0;  // 0: the model's input size
  float conf = 0.001f, iou = 0.6f;
  int max_det = 300;       // NMS output per image, as YOLOv5's val.py
  int max_dets_coco = 100;  // detections per image and class that COCO's AP counts
  int threads = 1;
  bool json = false;
  SliceOptions slice;  // sliced inference when enabled(), as `spdinfer detect --slice`
  std::string out;     // the figures' directory (apps/figures.h); none when empty
  bool plots = false;  // draw them (cmd_val.cpp: on when out is given, unless --no-plots)
};

void run_detection_val(const DetectionValOptions& o, const Detector& detector);

}  // namespace spdinfer::cli

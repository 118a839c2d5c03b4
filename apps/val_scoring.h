// The scoring loops of `spdinfer val`, shared with `spdinfer calibrate --check`: every image of a
// labelled dataset through a model exactly as `detect` / `classify` run it, into the eval/ metric
// counters. What it is not: printing, JSON, figures or predictions files (the callers'), nor the
// metrics themselves (eval/detection_metrics.h, eval/accuracy.h).
#pragma once

#include <functional>
#include <vector>

#include "apps/val_detection.h"
#include "eval/accuracy.h"
#include "eval/confusion_matrix.h"
#include "eval/dataset.h"
#include "eval/detection_dataset.h"
#include "eval/detection_metrics.h"
#include "models/classifier.h"
#include "models/detector.h"

namespace spdinfer::cli {

// val's detection settings (--conf, --iou, --max-det, --img, --slice, --threads) as detect's
// options; the input size rounded to the detector's stride, with the warning detect prints.
DetectOptions detection_val_options(const DetectionValOptions& o, const Detector& detector);

// Reads every label file of `data` (class ids below `num_classes`), so that a typo fails before a
// long run rather than in it; throws spdinfer::Error naming the file.
void check_detection_labels(const DetectionDataset& data, int num_classes);

// Time spent, summed over the images.
struct DetectionScoring {
  DetectionReport stages;  // pre-process, inference, NMS (and the slicing's)
  double decode_ms = 0;    // reading and decoding the image files
};

// Each sample of `data`: decoded, detected with `options`, scored against its labels into
// `evaluator` (and `confusion` when not null), then handed to `on_image` when set. A progress bar
// counts the images.
DetectionScoring score_detections(
    const Detector& detector, const DetectionDataset& data, const DetectOptions& options,
    DetectionEvaluator& evaluator, ConfusionMatrix* confusion = nullptr,
    const std::function<void(const DetectionSample&, const Image&, const std::vector<Detection>&)>& on_image = {});

struct ClassificationScoring {
  double preprocess_s = 0, inference_s = 0;
};

// The samples of `data`, `batch` at a time, through `classifier` into `counter`; each batch's
// predicted classes to `on_batch` when set. A progress bar counts the images.
ClassificationScoring score_classifications(const Classifier& classifier, const LabelledDataset& data, int batch,
                                            int threads, AccuracyCounter& counter,
                                            const std::function<void(const std::vector<int>&)>& on_batch = {});

}  // namespace spdinfer::cli

// `spdinfer calibrate --check DATASET`: how much accuracy the int8 model gives up, measured as
// `spdinfer val` measures it (val's defaults: a detector's mAP@0.5, mAP@0.5:0.95 and AP-small on a
// YOLO dataset split, a classifier's top-1 and top-5 on idx files or class folders), the fp32
// model and the int8 one on the same images. What it is not: calibration (cmd_calibrate.cpp) or
// the metrics (eval/).
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace spdinfer::cli {

struct AccuracyChange {
  std::string metric;  // "mAP@0.5", "top-1", ...
  double fp32 = 0, int8 = 0;
  bool gated = false;  // a drop of more than the allowed points is warned about
};

// Checks that `dataset` opens (and, for a detector, that every label file reads) for `model`, so
// that a mistake fails before calibration; throws spdinfer::Error.
void check_accuracy_dataset(const Model& model, const std::string& dataset, const std::string& split);

// Both models on `dataset` (`split` for a detector's dataset file).
std::vector<AccuracyChange> compare_accuracy(const std::string& fp32_model, const std::string& int8_model,
                                             const std::string& dataset, const std::string& split, int threads);

// "check: DATASET: mAP@0.5 0.294 -> 0.289 (-0.5 points), ..." on stdout, and a warning on stderr
// for each gated metric that drops by more than `max_drop_points`, saying what to try. Returns
// whether any did.
bool report_accuracy_changes(const std::vector<AccuracyChange>& changes, const std::string& dataset,
                             double max_drop_points, const std::string& table);

}  // namespace spdinfer::cli

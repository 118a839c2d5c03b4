// What `detect` writes per image and per video frame alike: the output directory, YOLO label
// files and the JSON object of one picture's detections. What it is not: console lines, drawing
// (detect/draw.h) or naming the outputs (the callers do).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "detect/detection.h"
#include "detect/detection_pipeline.h"
#include "image/image.h"

namespace spdinfer::cli {

// Creates `dir` and its parents; throws spdinfer::Error naming it when that fails.
void make_directory(const std::string& dir);

// One `class xc yc w h` line per detection (detect/detection.h's yolo_label_line) for a w x h
// picture; throws spdinfer::Error naming `path` when it cannot be written.
void write_labels(const std::string& path, const std::vector<Detection>& dets, int w, int h);

// {"image": path, "width", "height", "detections": [{class_id, class_name, confidence, box}],
//  "ms": {pre, infer, nms}} and, when sliced, "tiles", "forwards" and ms.merge.
nlohmann::json detections_json(const std::vector<std::string>& names, const std::string& path, const Image& img,
                               const std::vector<Detection>& dets, const DetectionReport& r, bool sliced);

}  // namespace spdinfer::cli

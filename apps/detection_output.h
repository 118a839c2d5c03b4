// What `detect` writes per image and per video frame alike: the output directory, YOLO label
// files and the JSON object of one picture's detections. What it is not: console lines, drawing
// (detect/draw.h) or naming the outputs (the callers do).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "apps/stage_times.h"
#include "detect/detection.h"
#include "detect/detection_pipeline.h"
#include "image/image.h"

namespace spdinfer::cli {

// The model's name for class `id`, or "classID" when it has none.
std::string class_name(const std::vector<std::string>& names, int id);

// One `class xc yc w h` line (with_conf: `class xc yc w h conf`) per detection
// (detect/detection.h's yolo_label_line) for a w x h picture; a picture with no
// detections still gets its (empty) file, so a rerun into the same directory
// (--exist-ok, --out) never leaves an earlier run's boxes behind. Throws
// spdinfer::Error naming `path` when it cannot be written.
void write_labels(const std::string& path, const std::vector<Detection>& dets, int w, int h, bool with_conf);

// {"image": path, "width", "height", "detections": [{class_id, class_name, confidence, box}],
//  "ms": {decode, preprocess, inference, nms}} and, when sliced, "tiles", "forwards" and ms.merge.
nlohmann::json detections_json(const std::vector<std::string>& names, const std::string& path, const Image& img,
                               const std::vector<Detection>& dets, const DetectionReport& r,
                               const StageTimes& times, bool sliced);

}  // namespace spdinfer::cli

// Per-image stage times as `detect` and `classify` report them, defined once
// so that the same words mean the same thing in both commands' console lines
// and JSON:
//   decode      reading and decoding the image file
//   preprocess  resize or letterbox, normalise into the input tensor
//   inference   the forward pass(es)
//   post        detect: NMS and boxes back in image pixels ("nms");
//               classify: softmax and top-k ("postprocess")
// Sliced detection's merging of tiles' boxes is reported beside these.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "detect/detection_pipeline.h"
#include "models/classifier.h"

namespace spdinfer::cli {

struct StageTimes {
  double decode = 0, preprocess = 0, inference = 0, post = 0;  // milliseconds

  StageTimes() = default;
  StageTimes(const DetectionReport& r, double decode_ms);
  StageTimes(const ClassifyReport& r, double decode_ms);
  void add(const StageTimes& other);
};

// {"decode": ..., "preprocess": ..., "inference": ..., POST_KEY: ...} in ms, 3 decimals.
nlohmann::json stage_times_json(const StageTimes& t, const char* post_key);

// "Speed: 1.2ms decode, 0.3ms pre-process, 5.6ms inference, 0.1ms NMS per image", the
// totals' mean over `images` (no newline). post_label: "NMS" or "post-process"; unit:
// what was timed ("image", or "frame" for videos).
std::string speed_text(const StageTimes& total, double images, const char* post_label,
                       const char* unit = "image");

}  // namespace spdinfer::cli

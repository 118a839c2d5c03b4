// detect()'s keyword arguments -> models/detector.h's DetectOptions, checked as
// the spdinfer command checks its options (apps/cmd_detect.cpp,
// apps/slice_options.cpp), with the same ranges. What it is not: running.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "models/detector.h"

namespace spdinfer::python {

// The command's limits for --img (its default is the model's recorded input size).
constexpr int kMinImgSize = 32, kMaxImgSize = 8192;

struct DetectArguments {
  double conf = 0.25, iou = 0.45;
  long long max_det = 1000;
  // Each kept class by id or by name (exact).
  std::optional<std::vector<std::variant<long long, std::string>>> classes;
  bool agnostic = false;
  std::optional<long long> img_size;
  std::optional<std::pair<long long, long long>> slice;  // (width, height); the rest only apply with it
  double overlap = 0.2;
  bool full_pass = true;
  std::string merge = "nmm", match = "ios";
  double merge_thres = 0.5;
  long long tile_batch = 8;
};

// Throws spdinfer::Error "NAME=VALUE: ..." for the first argument out of range
// (`classes` resolved against the model's class `names`). Without img_size, `default_img_size`
// (the model's recorded input size, as `spdinfer detect`).
DetectOptions detect_options(const DetectArguments& args, const std::vector<std::string>& names,
                             int default_img_size, int threads);

}  // namespace spdinfer::python

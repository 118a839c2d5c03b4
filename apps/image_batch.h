// What `classify`, `detect` and `val` share around the numerics: turning
// IMAGE, DIR and GLOB arguments into a sorted list of image files, a progress
// bar on a terminal, and number formatting for JSON lines (errors named by
// image: engine/error.h's naming_image). What it is not: decoding or any
// numerics (models/detector.h and models/classifier.h own the chains).
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/error.h"

namespace spdinfer::cli {

// Each argument in order: an existing file is taken as it is (decoding decides
// whether it is an image); a directory gives its .jpg/.jpeg/.png/.bmp files
// (not recursive), sorted; anything else with *, ? or [ is a glob, sorted.
// Files skipped from directories and globs for their extension get a note on
// stderr. Throws spdinfer::Error for a missing path, a glob matching nothing,
// or no images at all.
std::vector<std::string> expand_image_inputs(const std::vector<std::string>& args);

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A one-line bar redrawn on stderr, only when stderr is a terminal and there
// are at least kMinItems items: `[#####.....] 12/300 (4%) 3.2 images/s, ETA 1:30`.
// The rate counts from the first update(). clear() before printing anything else.
class ProgressBar {
 public:
  static constexpr std::size_t kMinItems = 8;
  // `unit`: what is counted ("images", "tiles"); quiet: never drawn.
  explicit ProgressBar(std::size_t total, std::string unit = "images", bool quiet = false);
  ~ProgressBar();
  void update(std::size_t done);
  void clear();
  bool enabled() const { return enabled_; }

 private:
  std::size_t total_;
  std::string unit_;
  bool enabled_;
  bool drawn_ = false;
  bool started_ = false;
  std::size_t first_done_ = 0;
  Clock::time_point start_;
};

// "1:05" or "1:02:05" for a duration in seconds (the bar's ETA).
std::string clock_duration(double seconds);

// Shortest decimal with `digits` significant digits, so JSON shows 0.87312
// rather than float noise like 0.8731200098991394.
double round_significant(double value, int digits);
// Rounded to `decimals` places (pixel coordinates, milliseconds).
double round_decimals(double value, int decimals);

}  // namespace spdinfer::cli

// What `classify`, `detect` and `val` share around the numerics: turning
// IMAGE, DIR and GLOB arguments into a sorted list of image files, errors
// named by image, a progress bar on a terminal, and number formatting for
// JSON lines. What it is not: decoding or any numerics (models/detector.h and
// models/classifier.h own the chains).
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

// f() with an spdinfer::Error from it rethrown naming `image` (or a dataset's
// sample): "IMAGE: ...". A ModelError keeps the model as the file to blame and
// gets the image as context: "MODEL: at input (1, 3, 640, 480): ... (running IMAGE)".
template <class F>
auto naming_image(const std::string& image, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ModelError& e) {
    throw ModelError(std::string(e.what()) + " (running " + image + ")");
  } catch (const Error& e) {
    throw Error(image + ": " + e.what());
  }
}

// A one-line bar redrawn on stderr, only when stderr is a terminal and there
// are at least kMinImages images. clear() before printing anything else.
class ProgressBar {
 public:
  static constexpr std::size_t kMinImages = 8;
  explicit ProgressBar(std::size_t total);
  ~ProgressBar();
  void update(std::size_t done);
  void clear();
  bool enabled() const { return enabled_; }

 private:
  std::size_t total_;
  bool enabled_;
  bool drawn_ = false;
};

// Shortest decimal with `digits` significant digits, so JSON shows 0.87312
// rather than float noise like 0.8731200098991394.
double round_significant(double value, int digits);
// Rounded to `decimals` places (pixel coordinates, milliseconds).
double round_decimals(double value, int decimals);

}  // namespace spdinfer::cli

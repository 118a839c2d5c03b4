// Image files read in batches for `classify` and `detect` (`--batch N`): one
// unreadable file among many is a warning, not the end of the run. What it is
// not: inference (models/) or output.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "apps/image_batch.h"
#include "image/image.h"

namespace spdinfer::cli {

struct LoadedImage {
  std::size_t index = 0;  // position in the file list (0-based)
  std::string path;
  Image image;
  double decode_ms = 0;  // reading and decoding the file
};

class BatchedImages {
 public:
  // `progress` is cleared before each warning line; it must outlive this object.
  BatchedImages(const std::vector<std::string>& files, std::size_t batch_size, ProgressBar& progress);

  // The next up to batch_size readable images, in file order; empty when all
  // files are read. A file that cannot be read or decoded gets one warning line
  // on stderr naming it and why, and is counted in unreadable(); when it is the
  // only file, its spdinfer::Error is thrown instead.
  std::vector<LoadedImage> next();

  std::size_t files() const { return files_.size(); }
  // Files taken so far, readable or not (what a progress bar counts).
  std::size_t taken() const { return position_; }
  const std::vector<std::string>& unreadable() const { return unreadable_; }

 private:
  const std::vector<std::string>& files_;
  std::size_t batch_size_;
  ProgressBar& progress_;
  std::size_t position_ = 0;
  std::vector<std::string> unreadable_;
};

// After a run: when images were skipped, a warning line counting them and exit
// status 2 (bad input) for the run, whose other results stand.
void report_unreadable(const BatchedImages& images);

}  // namespace spdinfer::cli

// Batches of decoded images with unreadable files skipped (see batched_images.h).
#include "apps/batched_images.h"

#include <cstdio>

#include "apps/commands.h"
#include "apps/terminal_text.h"
#include "engine/error.h"

namespace spdinfer::cli {

BatchedImages::BatchedImages(const std::vector<std::string>& files, std::size_t batch_size, ProgressBar& progress)
    : files_(files), batch_size_(batch_size < 1 ? 1 : batch_size), progress_(progress) {}

std::vector<LoadedImage> BatchedImages::next() {
  std::vector<LoadedImage> batch;
  while (batch.size() < batch_size_ && position_ < files_.size()) {
    const std::size_t index = position_++;
    const auto t = Clock::now();
    try {
      Image image = load_image(files_[index]);
      batch.push_back({index, files_[index], std::move(image), ms_since(t)});
    } catch (const Error& e) {
      // A single image that cannot be read is the run's error; among many, it is skipped.
      // Only reading and decoding are forgiven: an engine failure still ends the run.
      if (files_.size() == 1) throw;
      progress_.clear();
      std::fprintf(stderr, "spdinfer: warning: skipping image %zu/%zu: %s\n", index + 1, files_.size(),
                   terminal_text(e.what()).c_str());
      unreadable_.push_back(files_[index]);
    }
  }
  return batch;
}

void report_unreadable(const BatchedImages& images) {
  const std::size_t n = images.unreadable().size();
  if (n == 0) return;
  std::fprintf(stderr, "spdinfer: warning: %zu of %zu %s could not be read (named above)\n", n, images.files(),
               images.files() == 1 ? "image" : "images");
  exit_status = 2;
}

}  // namespace spdinfer::cli

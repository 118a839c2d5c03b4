// What image/stb_codecs.cpp adds around stb_image: a bound on its allocations.
#pragma once

#include <cstddef>

namespace spdinfer {

// While alive, refuses (as out of memory) any single allocation stb_image makes on this thread
// above `max_bytes`. stb sizes some buffers from what a file declares or from how far its
// compressed data inflates (a PNG's zlib stream can grow 1000-fold), so without a bound a small
// hostile file makes it allocate gigabytes before it finds the file is wrong.
class StbAllocationLimit {
 public:
  explicit StbAllocationLimit(std::size_t max_bytes);
  ~StbAllocationLimit();
  StbAllocationLimit(const StbAllocationLimit&) = delete;
  StbAllocationLimit& operator=(const StbAllocationLimit&) = delete;

  // True once an allocation was refused.
  bool exceeded() const;
};

}  // namespace spdinfer

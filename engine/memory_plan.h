// Assigns each intermediate value an offset in one arena so that values whose
// lifetimes do not overlap share memory (greedy by size, as TFLite's and
// ggml's planners do, for graphs of up to kGreedyPlanValues values; best fit
// in step order, O(n log n), beyond). Lifetimes are in node steps: a value is
// live from the step that writes it to the last step that reads it.
#pragma once

#include <cstddef>
#include <vector>

namespace spdinfer {

// Greedy by size is quadratic in the values: used up to this many (4,096^2 / 2 overlap checks,
// tens of milliseconds), far above any real network's few hundred.
constexpr std::size_t kGreedyPlanValues = 4096;

struct BufferRequest {
  std::size_t floats = 0;
  int first_step = 0;  // producer
  int last_step = 0;   // last reader (or the end, for graph outputs)
};

struct MemoryPlan {
  std::vector<std::size_t> offsets;  // floats, one per request, 64-byte aligned
  std::size_t arena_floats = 0;
};

// reuse=false gives every value its own range (for tests and debugging).
MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, bool reuse);

}  // namespace spdinfer

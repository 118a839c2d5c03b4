// Greedy-by-size offset assignment: place the largest buffers first, each at
// the lowest offset that does not collide with an already placed buffer whose
// lifetime overlaps. Near-optimal on CNN graphs and O(n^2) in the number of
// values, which is a few hundred here.
#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>

#include "engine/tensor.h"

namespace spdinfer {
namespace {

constexpr std::size_t kAlignFloats = kTensorAlignment / sizeof(float);

std::size_t align_up(std::size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

bool lifetimes_overlap(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

}  // namespace

MemoryPlan plan_memory(const std::vector<BufferRequest>& requests, bool reuse) {
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  if (!reuse) {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      plan.offsets[i] = plan.arena_floats;
      plan.arena_floats += align_up(requests[i].floats);
    }
    return plan;
  }

  std::vector<std::size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return requests[a].floats > requests[b].floats; });

  std::vector<std::size_t> placed;
  for (std::size_t i : order) {
    const std::size_t size = align_up(requests[i].floats);
    // Ranges taken by live neighbours, by start offset.
    std::vector<std::pair<std::size_t, std::size_t>> taken;
    for (std::size_t j : placed)
      if (lifetimes_overlap(requests[i], requests[j]))
        taken.emplace_back(plan.offsets[j], plan.offsets[j] + align_up(requests[j].floats));
    std::sort(taken.begin(), taken.end());
    std::size_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offsets[i] = offset;
    plan.arena_floats = std::max(plan.arena_floats, offset + size);
    placed.push_back(i);
  }
  return plan;
}

}  // namespace spdinfer

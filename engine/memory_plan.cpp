// Two placements, both exact about lifetimes (a value is never placed over one
// that is live at any of its steps):
// - Greedy by size (TFLite's and ggml's choice): the largest values first,
//   each at the lowest offset free of every placed value whose lifetime
//   overlaps. Near-optimal on CNN graphs, but each placement looks at every
//   value placed before it: O(n^2), so it is used up to kGreedyPlanValues
//   values (every real network has a few hundred).
// - Best fit in step order, beyond that: values are placed as their producing
//   step comes and their range handed back after their last reader, each into
//   the smallest free range that holds it (ranges kept by size and by offset,
//   neighbours merged). O(n log n), so a crafted graph of tens of thousands of
//   layers plans in milliseconds.
#include "engine/memory_plan.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "engine/tensor.h"

namespace spdinfer {
namespace {

constexpr std::size_t kAlignFloats = kTensorAlignment / sizeof(float);

std::size_t align_up(std::size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

bool lifetimes_overlap(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

void plan_greedy_by_size(const std::vector<BufferRequest>& requests, MemoryPlan& plan) {
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
}

// Free ranges of the arena below its current end, found by size (best fit) and by offset
// (merging a returned range with its neighbours).
class FreeRanges {
 public:
  // The offset of `size` floats: the smallest free range that holds it, else the free range
  // that ends the arena grown, else the arena's end. Updates `arena_end`.
  std::size_t take(std::size_t size, std::size_t& arena_end) {
    auto fit = by_size_.lower_bound({size, 0});
    if (fit != by_size_.end()) {
      const auto [range_size, offset] = *fit;
      erase(offset, range_size);
      if (range_size > size) insert(offset + size, range_size - size);
      return offset;
    }
    if (!by_offset_.empty()) {
      const auto last = std::prev(by_offset_.end());
      if (last->first + last->second == arena_end) {
        const std::size_t offset = last->first;
        erase(offset, last->second);
        arena_end = offset + size;
        return offset;
      }
    }
    const std::size_t offset = arena_end;
    arena_end += size;
    return offset;
  }

  void give_back(std::size_t offset, std::size_t size) {
    auto next = by_offset_.lower_bound(offset);
    if (next != by_offset_.end() && offset + size == next->first) {
      size += next->second;
      erase(next->first, next->second);
    }
    next = by_offset_.lower_bound(offset);
    if (next != by_offset_.begin()) {
      const auto before = std::prev(next);
      if (before->first + before->second == offset) {
        offset = before->first;
        size += before->second;
        erase(before->first, before->second);
      }
    }
    insert(offset, size);
  }

 private:
  void insert(std::size_t offset, std::size_t size) {
    by_offset_[offset] = size;
    by_size_.insert({size, offset});
  }
  void erase(std::size_t offset, std::size_t size) {
    by_offset_.erase(offset);
    by_size_.erase({size, offset});
  }
  std::map<std::size_t, std::size_t> by_offset_;          // offset -> size
  std::set<std::pair<std::size_t, std::size_t>> by_size_;  // (size, offset)
};

void plan_best_fit_in_step_order(const std::vector<BufferRequest>& requests, MemoryPlan& plan) {
  std::vector<std::size_t> by_start(requests.size()), by_end(requests.size());
  std::iota(by_start.begin(), by_start.end(), 0);
  std::iota(by_end.begin(), by_end.end(), 0);
  std::stable_sort(by_start.begin(), by_start.end(),
                   [&](std::size_t a, std::size_t b) { return requests[a].first_step < requests[b].first_step; });
  std::stable_sort(by_end.begin(), by_end.end(),
                   [&](std::size_t a, std::size_t b) { return requests[a].last_step < requests[b].last_step; });
  FreeRanges free;
  std::size_t arena_end = 0;
  auto ended = by_end.begin();
  for (std::size_t i : by_start) {
    // Hand back what died before this step: a range read at this step is still live.
    for (; ended != by_end.end() && requests[*ended].last_step < requests[i].first_step; ++ended)
      if (requests[*ended].floats) free.give_back(plan.offsets[*ended], align_up(requests[*ended].floats));
    plan.offsets[i] = requests[i].floats ? free.take(align_up(requests[i].floats), arena_end) : 0;
  }
  plan.arena_floats = arena_end;
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
  } else if (requests.size() <= kGreedyPlanValues) {
    plan_greedy_by_size(requests, plan);
  } else {
    plan_best_fit_in_step_order(requests, plan);
  }
  return plan;
}

}  // namespace spdinfer

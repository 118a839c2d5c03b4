// The engine's own threading: parallel loops over independent work items (images of a
// batch, groups, column tiles of a GEMM), run by the engine's thread pool
// (engine/thread_pool.h). OpenBLAS is kept single-threaded (see engine/kernels/blas.h) so that the
// thread count is a per-run choice and several runs may go on at once from different threads.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/thread_pool.h"

namespace spdinfer {

inline constexpr int kBlocksPerThread = 4;

// Calls fn(i) for i in [0, n) on up to `threads` threads. `threads` <= 1 or
// n <= 1 runs inline. fn must not throw, nor depend on which thread runs which i.
template <typename Fn>
void parallel_for(int64_t n, int threads, Fn&& fn) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  // Consecutive indices are grouped into blocks, a few per thread: claiming a block costs an
  // atomic operation and an indirect call, too much per row of an elementwise op, while
  // several blocks per thread let a thread that started late (or got less CPU) take fewer.
  const int64_t blocks = n < int64_t{threads} * kBlocksPerThread ? n : int64_t{threads} * kBlocksPerThread;
  const std::function<void(int64_t)> body = [&](int64_t b) {
    for (int64_t i = b * n / blocks, end = (b + 1) * n / blocks; i < end; ++i) fn(i);
  };
  ThreadPool::instance().run(blocks, threads, body);
}

}  // namespace spdinfer

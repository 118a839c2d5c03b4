// The engine's own threading: OpenMP over independent work items (images of a
// batch, groups, column tiles of a GEMM). OpenBLAS is kept single-threaded
// (see engine/blas.h) so that the thread count is a per-run choice and
// several runs may go on at once from different threads.
#pragma once

#include <cstdint>

namespace spdinfer {

// Calls fn(i) for i in [0, n) on up to `threads` threads. `threads` <= 1 or
// n <= 1 runs inline. fn must not throw.
template <typename Fn>
void parallel_for(int64_t n, int threads, Fn&& fn) {
  if (threads <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  int t = static_cast<int>(n < threads ? n : threads);
#pragma omp parallel for num_threads(t) schedule(static)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

}  // namespace spdinfer

// The portable int8 GEMM micro-kernel: plain C++ (the compiler vectorises what it can for plain
// x86-64), 4 rows x 16 columns. The fallback for CPUs without AVX2 and the family the others
// are compared with.
#include <cstdint>

#include "engine/kernels/qgemm_kernels.h"

namespace spdinfer {
namespace {

constexpr int kRows = 4, kCols = 16;

#include "engine/kernels/qgemm_store.inc"

void run(int64_t kgroups, const void* a_panel, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
         int rows, int cols, bool accumulate) {
  const int8_t* a = static_cast<const int8_t*>(a_panel);
  // Unsigned, so that a sum past int32 (only in a partial sum of the unsigned B, never in the
  // result) wraps as the vector kernels' do.
  uint32_t acc[kRows][kCols] = {};
  for (int64_t g = 0; g < kgroups; ++g, a += kRows * 4, b += kCols * 4)
    for (int r = 0; r < kRows; ++r)
      for (int j = 0; j < kCols; ++j) {
        int32_t s = 0;  // at most 4 * 127 * 255
        for (int t = 0; t < 4; ++t) s += int32_t{a[r * 4 + t]} * int32_t{b[j * 4 + t]};
        acc[r][j] += static_cast<uint32_t>(s);
      }
  store_block(reinterpret_cast<const int32_t*>(&acc[0][0]), kCols, init, c, ldc, rows, cols, accumulate);
}

void quantize(const float* x, int64_t n, float scale, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = quantize_one(x[i], scale);
}

const QgemmKernel kKernel{QgemmFamily::Generic, "generic", kRows, kCols, false, run, quantize};

}  // namespace

const QgemmKernel& qgemm_kernel_generic() { return kKernel; }

}  // namespace spdinfer

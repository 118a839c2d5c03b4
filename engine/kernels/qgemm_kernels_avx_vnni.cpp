// The AVX-VNNI int8 GEMM micro-kernel (Alder Lake and later cores without AVX-512): 6 rows x 16
// columns (two ymm registers per row, 8 columns of 32-bit sums each), 12 accumulators; the VEX
// form of vpdpbusd, which multiplies each lane's 4 unsigned bytes of B by its 4 signed bytes of A
// and adds the 4 products to the lane's int32 sum. A is packed as int8 (4 bytes per row per group
// of k), like AVX-512 VNNI's.
// Compiled with -mavx2 -mfma -mavxvnni (CMakeLists.txt); called only when the CPU has AVX-VNNI.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/kernels/qgemm_kernels.h"

namespace spdinfer {
namespace {

constexpr int kRows = 6, kVectors = 2, kCols = kVectors * 8;

#include "engine/kernels/qgemm_store.inc"
#include "engine/kernels/qgemm_ymm.inc"

void run(int64_t kgroups, const void* a_panel, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
         int rows, int cols, bool accumulate) {
  const int8_t* a = static_cast<const int8_t*>(a_panel);
  __m256i acc[kRows][kVectors];
  zero_acc(acc);
  for (int64_t g = 0; g < kgroups; ++g, a += kRows * 4, b += kCols * 4) {
    __m256i bv[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) bv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + v * 32));
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256i ar = broadcast32(a + r * 4);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], bv[v], ar);
    }
  }
  store_acc(acc, init, c, ldc, rows, cols, accumulate);
}

const QgemmKernel kKernel{QgemmFamily::AvxVnni, "avx-vnni", kRows, kCols, false, run, quantize};

}  // namespace

const QgemmKernel& qgemm_kernel_avx_vnni() { return kKernel; }

}  // namespace spdinfer

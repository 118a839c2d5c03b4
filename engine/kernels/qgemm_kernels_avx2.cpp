// The AVX2 int8 GEMM micro-kernel: 4 rows x 16 columns (two ymm registers per row, 8 columns of
// 32-bit sums each). vpmaddubsw would sum two u8 x s8 products into int16, which saturates
// (2 * 255 * 127 > 32767), so the bytes are widened instead: B's even and odd bytes of each
// 32-bit lane (values of k 0, 2 and 1, 3) become 16-bit lanes by a mask and a shift, A is packed
// as int16 pairs in the same order, and vpmaddwd sums two exact products into int32.
// Compiled with -mavx2 -mfma (CMakeLists.txt); called only when the CPU has AVX2.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/kernels/qgemm_kernels.h"

namespace spdinfer {
namespace {

constexpr int kRows = 4, kVectors = 2, kCols = kVectors * 8;

#include "engine/kernels/qgemm_store.inc"
#include "engine/kernels/qgemm_ymm.inc"

void run(int64_t kgroups, const void* a_panel, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
         int rows, int cols, bool accumulate) {
  const int16_t* a = static_cast<const int16_t*>(a_panel);
  const __m256i low_bytes = _mm256_set1_epi16(0x00ff);
  __m256i acc[kRows][kVectors];
  zero_acc(acc);
  for (int64_t g = 0; g < kgroups; ++g, a += kRows * 4, b += kCols * 4) {
    __m256i even[kVectors], odd[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) {
      const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + v * 32));
      even[v] = _mm256_and_si256(bv, low_bytes);
      odd[v] = _mm256_srli_epi16(bv, 8);
    }
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256i a_even = broadcast32(a + r * 4), a_odd = broadcast32(a + r * 4 + 2);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v)
        acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_add_epi32(_mm256_madd_epi16(even[v], a_even),
                                                                  _mm256_madd_epi16(odd[v], a_odd)));
    }
  }
  store_acc(acc, init, c, ldc, rows, cols, accumulate);
}

const QgemmKernel kKernel{QgemmFamily::Avx2, "avx2", kRows, kCols, true, run, quantize};

}  // namespace

const QgemmKernel& qgemm_kernel_avx2() { return kKernel; }

}  // namespace spdinfer

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

__m256i broadcast_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

void run(int64_t kgroups, const void* a_panel, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
         int rows, int cols, bool accumulate) {
  const int16_t* a = static_cast<const int16_t*>(a_panel);
  const __m256i low_bytes = _mm256_set1_epi16(0x00ff);
  __m256i acc[kRows][kVectors];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_setzero_si256();
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
      const __m256i a_even = broadcast_pair(a + r * 4), a_odd = broadcast_pair(a + r * 4 + 2);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v)
        acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_add_epi32(_mm256_madd_epi16(even[v], a_even),
                                                                  _mm256_madd_epi16(odd[v], a_odd)));
    }
  }
  if (rows == kRows && cols == kCols) {
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) {
        __m256i* p = reinterpret_cast<__m256i*>(c + r * ldc + v * 8);
        __m256i sum = acc[r][v];
        if (init) sum = _mm256_add_epi32(sum, _mm256_set1_epi32(init[r]));
        if (accumulate) sum = _mm256_add_epi32(sum, _mm256_loadu_si256(p));
        _mm256_storeu_si256(p, sum);
      }
    return;
  }
  alignas(32) int32_t tile[kRows * kCols];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v)
      _mm256_store_si256(reinterpret_cast<__m256i*>(tile + r * kCols + v * 8), acc[r][v]);
  store_block(tile, kCols, init, c, ldc, rows, cols, accumulate);
}

// 32 values at a time: divide, clamp (maxps / minps: NaN -> -127), round to nearest even
// (vcvtps2dq), add the zero point, then narrow to bytes (the packs do not saturate: 1..255 fit).
void quantize(const float* x, int64_t n, float scale, uint8_t* out) {
  const __m256 s = _mm256_set1_ps(scale), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  const __m256i zero_point = _mm256_set1_epi32(128);
  auto one = [&](const float* p) {
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(_mm256_loadu_ps(p), s), lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zero_point);
  };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i w01 = _mm256_packs_epi32(one(x + i), one(x + i + 8));        // int16, lanes interleaved
    const __m256i w23 = _mm256_packs_epi32(one(x + i + 16), one(x + i + 24));
    const __m256i bytes = _mm256_packus_epi16(w01, w23);
    // packs work within 128-bit halves: dwords 0, 4, 1, 5, 2, 6, 3, 7 back into order.
    const __m256i ordered = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), ordered);
  }
  for (; i < n; ++i) out[i] = quantize_one(x[i], scale);
}

const QgemmKernel kKernel{QgemmFamily::Avx2, "avx2", kRows, kCols, true, run, quantize};

}  // namespace

const QgemmKernel& qgemm_kernel_avx2() { return kKernel; }

}  // namespace spdinfer

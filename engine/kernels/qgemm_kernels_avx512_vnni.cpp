// The AVX-512 VNNI int8 GEMM micro-kernel: 8 rows x 48 columns (three zmm registers per row,
// 16 columns of 32-bit sums each), 24 accumulators. Per group of 4 values of k: three loads of
// B (64 bytes each) and, per row, 4 bytes of A broadcast from memory into every lane; vpdpbusd
// multiplies each lane's 4 unsigned bytes of B by its 4 signed bytes of A and adds the 4 products
// to the lane's int32 sum (no saturation: vpdpbusds would be the saturating one).
// A block of at most 16 or 32 columns (a deep layer's small plane) runs a copy of the loop with
// one or two vectors per row: the lanes past the block's columns are not computed at all.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni (CMakeLists.txt); called only when
// the CPU has them.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "engine/kernels/qgemm_kernels.h"

namespace spdinfer {
namespace {

constexpr int kRows = 8, kVectors = 3, kCols = kVectors * 16;

#include "engine/kernels/qgemm_store.inc"

__m512i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// The first V vectors (16 V columns) of the panel; the panel's rows stay kCols wide.
template <int V>
void run_vectors(int64_t kgroups, const int8_t* a, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
                 int rows, int cols, bool accumulate) {
  __m512i acc[kRows][V];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < kgroups; ++g, a += kRows * 4, b += kCols * 4) {
    __m512i bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm512_loadu_si512(b + v * 64);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512i ar = broadcast_quad(a + r * 4);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], bv[v], ar);
    }
  }
  // Column tails by masked loads and stores, row tails by stopping early.
  __mmask16 mask[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const int n = cols - v * 16;
    mask[v] = n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if (r >= rows) break;
    const __m512i offset = init ? _mm512_set1_epi32(init[r]) : _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      int32_t* p = c + r * ldc + v * 16;
      __m512i sum = _mm512_add_epi32(acc[r][v], offset);
      if (accumulate) sum = _mm512_add_epi32(sum, _mm512_maskz_loadu_epi32(mask[v], p));
      _mm512_mask_storeu_epi32(p, mask[v], sum);
    }
  }
}

void run(int64_t kgroups, const void* a_panel, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
         int rows, int cols, bool accumulate) {
  const int8_t* a = static_cast<const int8_t*>(a_panel);
  if (cols <= 16) return run_vectors<1>(kgroups, a, b, init, c, ldc, rows, cols, accumulate);
  if (cols <= 32) return run_vectors<2>(kgroups, a, b, init, c, ldc, rows, cols, accumulate);
  run_vectors<kVectors>(kgroups, a, b, init, c, ldc, rows, cols, accumulate);
}

// 16 values at a time: divide, clamp (maxps / minps: NaN -> -127), round to nearest even
// (vcvtps2dq), add the zero point, narrow to bytes (vpmovdb). The last 1..15 values by the same
// instructions under a mask: a padded small plane is quantised a row of 2..8 values at a time,
// which a scalar tail would do one by one.
void quantize(const float* x, int64_t n, float scale, uint8_t* out) {
  const __m512 s = _mm512_set1_ps(scale), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512i zero_point = _mm512_set1_epi32(128);
  // The zero-masked forms with every lane set: GCC 12's plain ones pass an undefined vector that
  // -Wmaybe-uninitialized reports (a false report); the instructions are the same.
  const __mmask16 all = 0xffff;
  auto sixteen = [&](__m512 xi) {
    const __m512 v = _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, _mm512_div_ps(xi, s), lo), hi);
    return _mm512_maskz_cvtepi32_epi8(all, _mm512_add_epi32(_mm512_maskz_cvtps_epi32(all, v), zero_point));
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), sixteen(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm_mask_storeu_epi8(out + i, tail, sixteen(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

const QgemmKernel kKernel{QgemmFamily::Avx512Vnni, "avx512-vnni", kRows, kCols, false, run, quantize};

}  // namespace

const QgemmKernel& qgemm_kernel_avx512_vnni() { return kKernel; }

}  // namespace spdinfer

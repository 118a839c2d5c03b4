// The AVX2 GEMM micro-kernel: 4 rows x 24 columns (three ymm registers per row), 12
// accumulators, B loaded as three vectors and each A value broadcast from memory per step of k.
// With it, the family's direct-convolution kernel (engine/kernels/direct_conv_kernels.h), built on
// the same registers. Compiled with -mavx2 -mfma (CMakeLists.txt); called only when active_isa()
// allows it.
#include <immintrin.h>

#include <cstdint>

#include "engine/kernels/direct_conv_kernels.h"
#include "engine/kernels/gemm_kernels.h"

namespace spdinfer {
namespace {

struct Lanes {
  using Reg = __m256;
  static constexpr int kWidth = 8;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static Reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Reg add(Reg x, Reg y) { return _mm256_add_ps(x, y); }
  static Reg fma(Reg x, Reg y, Reg acc) { return _mm256_fmadd_ps(x, y, acc); }
  // r[i][j] <-> r[j][i]: 32-bit pairs, then 64-bit pairs within 128-bit lanes, then the lanes.
  static void transpose(Reg r[kWidth]) {
    Reg t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
      r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
      r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
  }
  static float sum(Reg v) {
    const __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
  }
};

constexpr Isa kIsa = Isa::Avx2;
constexpr int kRows = 4, kVectors = 3;
// Dot products (run_dot): 4 rows x 2 columns, so that accumulators, columns and a row fit the
// 16 registers.
constexpr int kDotRows = 4, kDotCols = 2;

#include "engine/kernels/gemm_micro_kernel.inc"

// The direct convolution's blocks (engine/kernels/direct_conv_kernels.h), positions x registers of
// output channels: 6 x 2: 12 accumulators, the two weight registers and the broadcast value within the 16.
constexpr int kDirectVectors = 2;
constexpr int kDirectPixels[4] = {12, 6, 0, 0};

#include "engine/kernels/direct_conv_kernel.inc"

}  // namespace

const GemmMicroKernel& gemm_micro_kernel_avx2() { return kKernel; }

const DirectConvKernel& direct_conv_kernel_avx2() { return kDirectKernel; }

}  // namespace spdinfer

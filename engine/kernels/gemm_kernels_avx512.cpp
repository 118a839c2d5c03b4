// The AVX-512 GEMM micro-kernel: 8 rows x 32 columns (two zmm registers per row), 16
// accumulators, B loaded as two vectors and each A value broadcast from memory per step of k.
// With it, the family's direct-convolution kernel (engine/kernels/direct_conv_kernels.h), built on
// the same registers. Compiled with -mavx512f -mavx512bw -mavx512vl -mfma (CMakeLists.txt); called
// only when active_isa() allows it.
#include <immintrin.h>

#include <cstdint>

#include "engine/kernels/direct_conv_kernels.h"
#include "engine/kernels/gemm_kernels.h"

namespace spdinfer {
namespace {

struct Lanes {
  using Reg = __m512;
  static constexpr int kWidth = 16;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static Reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Reg add(Reg x, Reg y) { return _mm512_add_ps(x, y); }
  static Reg fma(Reg x, Reg y, Reg acc) { return _mm512_fmadd_ps(x, y, acc); }
  // Halves folded in registers: a store and narrower reloads would wait for store forwarding,
  // once per dot product. The masked forms with every lane set are the plain instructions; the
  // plain intrinsics (and _mm512_reduce_add_ps) make GCC 12 warn of an uninitialised value, a
  // false report from their _mm512_undefined_ps.
  // r[i][j] <-> r[j][i]: 32-bit pairs, then 64-bit pairs within 128-bit lanes, then the lanes. The
  // masked forms with every lane set, for the reason sum() gives below.
  static void transpose(Reg r[kWidth]) {
    Reg t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_mask_unpacklo_ps(r[i], 0xFFFF, r[i], r[i + 1]);
      t[i + 1] = _mm512_mask_unpackhi_ps(r[i], 0xFFFF, r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
      for (int j = 0; j < 2; ++j) {
        u[i + 2 * j] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(_mm512_castps_pd(t[i + j]), 0xFF, _mm512_castps_pd(t[i + j]), _mm512_castps_pd(t[i + j + 2])));
        u[i + 2 * j + 1] =
            _mm512_castpd_ps(_mm512_mask_unpackhi_pd(_mm512_castps_pd(t[i + j]), 0xFF, _mm512_castps_pd(t[i + j]), _mm512_castps_pd(t[i + j + 2])));
      }
    // u[4q + c], lane l: column 4l + c of rows 4q..4q+3. Lanes 0 and 2, then 1 and 3, of rows 0-7
    // and of rows 8-15 (t[8h + c]: columns c and c + 8; t[8h + 4 + c]: c + 4 and c + 12); then the
    // two halves of each column together.
    for (int h = 0; h < 2; ++h)
      for (int c = 0; c < 4; ++c) {
        t[8 * h + c] = _mm512_mask_shuffle_f32x4(u[8 * h + c], 0xFFFF, u[8 * h + c], u[8 * h + 4 + c], 0x88);
        t[8 * h + 4 + c] = _mm512_mask_shuffle_f32x4(u[8 * h + c], 0xFFFF, u[8 * h + c], u[8 * h + 4 + c], 0xDD);
      }
    // t[c] and t[8 + c] hold columns c and c + 8, of rows 0-7 and 8-15.
    for (int c = 0; c < 8; ++c) {
      r[c] = _mm512_mask_shuffle_f32x4(t[c], 0xFFFF, t[c], t[8 + c], 0x88);
      r[c + 8] = _mm512_mask_shuffle_f32x4(t[c], 0xFFFF, t[c], t[8 + c], 0xDD);
    }
  }
  static float sum(Reg v) {
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));  // 256-bit halves
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0xB1));  // 128-bit quarters
    const __m128 x = _mm512_mask_extractf32x4_ps(_mm_setzero_ps(), 0xF, v, 0);
    const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
  }
};

constexpr Isa kIsa = Isa::Avx512;
constexpr int kRows = 8, kVectors = 2;
// Dot products (run_dot): 4 rows x 4 columns, 16 accumulators of the 32 registers.
constexpr int kDotRows = 4, kDotCols = 4;

#include "engine/kernels/gemm_micro_kernel.inc"

// The direct convolution's blocks (engine/kernels/direct_conv_kernels.h), positions x registers of
// output channels: 12 x 2 or 6 x 4: 24 accumulators of the 32 registers, so a 64-channel layer broadcasts each
// input value once for four registers of weights.
constexpr int kDirectVectors = 4;
constexpr int kDirectPixels[4] = {24, 12, 8, 6};

#include "engine/kernels/direct_conv_kernel.inc"

}  // namespace

const GemmMicroKernel& gemm_micro_kernel_avx512() { return kKernel;
}

const DirectConvKernel& direct_conv_kernel_avx512() { return kDirectKernel; }

}  // namespace spdinfer

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

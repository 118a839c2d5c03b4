// The portable GEMM micro-kernel: SSE2, which every x86-64 CPU has, 4 rows x 8 columns (two xmm
// registers per row). No fused multiply-add here: each step rounds the product, then the sum.
// It is the fallback for CPUs without AVX2 and the family the faster ones are compared with. With
// it, the family's direct-convolution kernel (engine/kernels/direct_conv_kernels.h).
#include <emmintrin.h>

#include <cstdint>

#include "engine/kernels/direct_conv_kernels.h"
#include "engine/kernels/gemm_kernels.h"

namespace spdinfer {
namespace {

struct Lanes {
  using Reg = __m128;
  static constexpr int kWidth = 4;
  static Reg zero() { return _mm_setzero_ps(); }
  static Reg load(const float* p) { return _mm_loadu_ps(p); }
  static void store(float* p, Reg v) { _mm_storeu_ps(p, v); }
  static Reg broadcast(const float* p) { return _mm_set1_ps(*p); }
  static Reg add(Reg x, Reg y) { return _mm_add_ps(x, y); }
  static Reg fma(Reg x, Reg y, Reg acc) { return _mm_add_ps(_mm_mul_ps(x, y), acc); }
  static void transpose(Reg r[kWidth]) { _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]); }
  static float sum(Reg v) {
    const __m128 y = _mm_add_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
  }
};

constexpr Isa kIsa = Isa::Generic;
constexpr int kRows = 4, kVectors = 2;
// Dot products (run_dot): 4 rows x 2 columns, within the 16 registers.
constexpr int kDotRows = 4, kDotCols = 2;

#include "engine/kernels/gemm_micro_kernel.inc"

// The direct convolution's blocks (engine/kernels/direct_conv_kernels.h), positions x registers of
// output channels: 6 x 2: 12 accumulators, the two weight registers and the broadcast value within the 16.
constexpr int kDirectVectors = 2;
constexpr int kDirectPixels[4] = {12, 6, 0, 0};

#include "engine/kernels/direct_conv_kernel.inc"

}  // namespace

const GemmMicroKernel& gemm_micro_kernel_generic() { return kKernel; }

const DirectConvKernel& direct_conv_kernel_generic() { return kDirectKernel; }

}  // namespace spdinfer

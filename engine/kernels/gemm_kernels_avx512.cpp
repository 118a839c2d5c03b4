// The AVX-512 GEMM micro-kernel: 8 rows x 32 columns (two zmm registers per row), 16
// accumulators, B loaded as two vectors and each A value broadcast from memory per step of k.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mfma (CMakeLists.txt); called only when
// active_isa() allows it.
#include <immintrin.h>

#include <cstdint>

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
  // Through memory rather than _mm512_reduce_add_ps, whose GCC 12 expansion warns of an
  // uninitialised value (-Wmaybe-uninitialized, a false report). Once per dot product.
  static float sum(Reg v) {
    alignas(64) float lanes[kWidth];
    _mm512_store_ps(lanes, v);
    const __m128 x = _mm_add_ps(_mm_add_ps(_mm_load_ps(lanes), _mm_load_ps(lanes + 4)),
                                _mm_add_ps(_mm_load_ps(lanes + 8), _mm_load_ps(lanes + 12)));
    const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
  }
};

constexpr Isa kIsa = Isa::Avx512;
constexpr int kRows = 8, kVectors = 2;

#include "engine/kernels/gemm_micro_kernel.inc"

}  // namespace

const GemmMicroKernel& gemm_micro_kernel_avx512() { return kKernel;
}

}  // namespace spdinfer

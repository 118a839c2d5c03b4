// The int8 GEMM micro-kernels, one per instruction family: each multiplies a packed panel of A
// (MR rows of int8 weights) by a packed panel of B (NR columns of uint8 activations) into an
// MR x NR block of int32 C held in registers. The blocking and packing around them is
// engine/kernels/qgemm.cpp.
//
// Packed layouts, k in groups of 4 (one 32-bit lane of a vector holds 4 consecutive values of k
// of one column: what vpdpbusd multiplies and sums):
//   B panel: b[g * NR * 4 + j * 4 + t] = B(k0 + 4 g + t, col0 + j), uint8; columns past the
//            matrix's end and values of k past K hold 128 (their products are discarded or have a
//            zero weight);
//   A panel: int8 (a_int16 false): a[g * MR * 4 + r * 4 + t] = A(row0 + r, k0 + 4 g + t);
//            int16 (a_int16 true, the AVX2 family, which multiplies 16-bit pairs):
//            a[g * MR * 4 + r * 4 + u] with u = 0, 1, 2, 3 holding t = 0, 2, 1, 3 (the even
//            values of k, then the odd ones); rows past the end and k past K zero.
// Every sum is exact in int32 (additions modulo 2^32 in any order give the one true sum when it
// fits), so every family gives the same bits as the reference.
#pragma once

#include <cstdint>

namespace spdinfer {

enum class QgemmFamily {
  Generic,     // portable C++: every CPU; the others are compared with it
  Avx2,        // AVX2: bytes widened to 16 bits, vpmaddwd (exact: no int16 saturation)
  AvxVnni,     // AVX-VNNI: vpdpbusd on ymm (VEX), for CPUs with it and without AVX-512
  Avx512Vnni,  // AVX-512 VNNI: vpdpbusd on zmm
};

struct QgemmKernel {
  QgemmFamily family;
  const char* name;  // "generic", "avx2", "avx-vnni", "avx512-vnni"
  int mr;            // rows of C per call (A panel height)
  int nr;            // columns of C per call (B panel width), a multiple of 16
  bool a_int16;      // A panels hold int16 in the order above, else int8
  // C[0, rows) x [0, cols) = (C if accumulate) + (init[r] if init) + sum over g < kgroups, t < 4
  // of A(r, 4 g + t) * B(4 g + t, j), the panels packed as above; 1 <= rows <= mr,
  // 1 <= cols <= nr, C row-major with leading dimension ldc.
  void (*run)(int64_t kgroups, const void* a, const uint8_t* b, const int32_t* init, int32_t* c, int64_t ldc,
              int rows, int cols, bool accumulate);
  // out[i] = 128 + clamp(round(x[i] / scale), -127, 127) for i < n: engine/ops/conv2d_int8.h's
  // input rule (rounding to nearest, ties to even; NaN -> -127), B's values for a quantised input.
  void (*quantize)(const float* x, int64_t n, float scale, uint8_t* out);
};

// Each family's kernel. Calling one the CPU lacks is an illegal instruction: see qgemm.h's
// qgemm_supported.
const QgemmKernel& qgemm_kernel_generic();
const QgemmKernel& qgemm_kernel_avx2();
const QgemmKernel& qgemm_kernel_avx_vnni();
const QgemmKernel& qgemm_kernel_avx512_vnni();

}  // namespace spdinfer

// The GEMM micro-kernels, one per instruction family (engine/kernels/cpu_features.h): each
// multiplies a panel of packed A (MR rows) by a panel of packed B (NR columns) into an MR x NR
// block of C held in registers. The blocking and packing around them is engine/kernels/sgemm.cpp;
// the kernels know nothing of matrices beyond their panel.
//
// Packed layouts (k-major, so that each step of k reads consecutive floats):
//   A panel: a[k * MR + r] = A(row0 + r, k0 + k), rows past the matrix's end zero;
//   B panel: b[k * ldb + j] = B(k0 + k, col0 + j): packed (ldb = NR, columns past the matrix's
//            end zero), or B itself when it is row-major and holds all NR columns.
#pragma once

#include <cstdint>

#include "engine/kernels/cpu_features.h"

namespace spdinfer {

struct GemmMicroKernel {
  Isa isa;
  int mr;  // rows of C per call (A panel height)
  int nr;  // columns of C per call (B panel width)
  int lanes;  // floats per vector register: a B panel narrower than nr is read in multiples of it
  // C[0, rows) x [0, cols) = (C +) sum over k < kc of a[k * mr + r] * b[k * ldb + j], with
  // 1 <= kc, rows <= mr and cols <= nr; C row-major with leading dimension ldc. Each element is one
  // chain of fused multiply-adds in order of k (Generic: multiply, then add), so a result does
  // not depend on where its row and column sit in a panel.
  void (*run)(int64_t kc, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int rows, int cols,
              bool accumulate);
  // The same with A's rows read where they lie: a[r * lda + k] for r < rows (no packed panel, no
  // padding rows). For products of few columns, where packing A would cost as much as using it.
  void (*run_unpacked_a)(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                         int rows, int cols, bool accumulate);
  // run_unpacked_a for A's rows streamed from memory once, in order of k (sgemm.cpp's few-column
  // products): each row is prefetched a little ahead, where the hardware prefetcher would stop at
  // every 4 KiB page. The same bits as run_unpacked_a.
  void (*run_streamed_a)(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                         int rows, int cols, bool accumulate);
  // The product of few columns (engine/kernels/blas.h's sgemm_narrow), bound by reading A once: for each
  // row m < M of A (row-major, leading dimension lda), C[m][n] = (C[m][n] +) the dot product of
  // that row with row n < cols of bt (cols x K, contiguous: B's columns). Each sum runs over k in
  // an order that depends only on K, so an element's bits do not depend on the other rows and
  // columns of the call.
  void (*dot)(int64_t M, int64_t K, const float* A, int64_t lda, const float* bt, int cols, float* C, int64_t ldc,
              bool accumulate);
};

// Each family's kernel. Calling one the CPU lacks (isa_supported) is an illegal instruction:
// go through gemm_micro_kernel() unless a test has checked.
const GemmMicroKernel& gemm_micro_kernel_generic();
const GemmMicroKernel& gemm_micro_kernel_avx2();
const GemmMicroKernel& gemm_micro_kernel_avx512();

// The kernel of a family (any family; the caller checks isa_supported).
const GemmMicroKernel& gemm_micro_kernel(Isa isa);

}  // namespace spdinfer

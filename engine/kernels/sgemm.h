// The engine's single-precision GEMM: C = A * B [+ C], row-major, on the calling thread, with
// the micro-kernels of the instruction family active_isa() picks (engine/kernels/gemm_kernels.h).
// Around them, the blocking of Goto and van de Geijn ("Anatomy of high-performance matrix
// multiplication", 2008): K in blocks whose B panel stays in L1 while A's block streams from L2,
// both operands copied ("packed") into the kernels' layouts first, except where one of them is
// used too few times for the copy to pay (sgemm.cpp says when). A matrix that multiplies many
// times (Winograd's transformed weights) can be packed once, at plan time, as a GemmPackedA.
//
// Not here: threading (callers split C's rows or columns over the engine's threads and call this
// per part), other precisions, and the narrow products of a handful of columns (engine/kernels/blas.h's
// sgemm_narrow serves those).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/kernels/gemm_kernels.h"

namespace spdinfer {

// How B is stored: (K x N) row-major, or transposed, (N x K) row-major (a linear layer's weight).
enum class GemmLayout { RowMajor, Transposed };

// A (rows x cols) in the kernel's panels of kernel.mr rows (rows past the end zero), laid out
// in the order the GEMM reads them: for each block of k (gemm_k_block), every panel's kc x mr
// values, k-major. Made once, multiplied many times; tied to the family it was packed for.
class GemmPackedA {
 public:
  GemmPackedA() = default;
  GemmPackedA(const GemmMicroKernel& kernel, const float* a, int64_t rows, int64_t cols, int64_t lda);

  const GemmMicroKernel& kernel() const { return *kernel_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  bool empty() const { return data_.empty(); }
  // The panel holding row `row` (a multiple of kernel().mr) in the block of k starting at k0 (a
  // multiple of gemm_k_block(cols())); the next panel follows at kc * mr floats.
  const float* panel(int64_t row, int64_t k0) const {
    return data_.data() + k0 * padded_rows_ + row * std::min(block_k_, cols_ - k0);
  }

 private:
  const GemmMicroKernel* kernel_ = nullptr;
  int64_t rows_ = 0, cols_ = 0, padded_rows_ = 0, block_k_ = 0;
  std::vector<float> data_;
};

// C (M x N) = A (M x K) * B [+ C when accumulate], B (K x N) or, transposed, (N x K). Leading
// dimensions are in floats. Each element is one chain of multiply-adds over k in order, rounded
// to float after every block of k (K cut into equal blocks of at most kGemmBlockK); results may
// differ from another family's or from OpenBLAS's in the last bits.
void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
          int64_t ldc, bool accumulate = false, GemmLayout b_layout = GemmLayout::RowMajor);

// The same with a chosen family's kernel (the caller checks isa_supported): for tests and
// benchmarks that compare families.
void gemm(const GemmMicroKernel& kernel, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate = false,
          GemmLayout b_layout = GemmLayout::RowMajor);

// Rows [row0, row0 + rows) of C = those rows of the packed A * B [+ C], C's first row at c.
// row0 must be a multiple of a.kernel().mr. B as in gemm.
void gemm_packed(const GemmPackedA& a, int64_t row0, int64_t rows, int64_t N, const float* B, int64_t ldb,
                 float* c, int64_t ldc, bool accumulate = false, GemmLayout b_layout = GemmLayout::RowMajor);

// Plain loops accumulating in double: what every family is tested against.
void gemm_reference(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, bool accumulate = false, GemmLayout b_layout = GemmLayout::RowMajor);

// Values of k per block: a B panel of this many rows stays in a 32 KiB L1 cache.
inline constexpr int64_t kGemmBlockK = 256;

// The block of k for depth K: K cut into equal blocks of at most kGemmBlockK (288 = 144 + 144,
// not 256 + 32, whose short block would load and store C again for little work).
inline int64_t gemm_k_block(int64_t K) {
  const int64_t blocks = (K + kGemmBlockK - 1) / kGemmBlockK;
  return blocks > 0 ? (K + blocks - 1) / blocks : 1;
}

}  // namespace spdinfer

// A GEMM for weight matrices packed once, at plan time, for products with few columns:
// a batch-1 convolution over a 4x4 or 5x5 map, say (16 or 25 GEMM columns). OpenBLAS's sgemm
// packs the weights again on every call, which for so few columns costs about as much as the
// multiplication itself; here the packing is done once and each call streams the packed weights
// through a 6 x 16 register-blocked kernel. For more columns OpenBLAS is faster (its blocking
// pays off), for at most kNarrowGemmColumns sgemm_narrow is; see kPackedGemmMaxColumns.
#pragma once

#include <cstdint>
#include <vector>

namespace spdinfer {

// Products with more columns than this go to OpenBLAS. Measured (one thread, weights 264 x 2304
// to 2046 x 512): 1.6-2.1x OpenBLAS's speed at 16 columns, 1.1-1.2x at 32, about even at 64.
inline constexpr int64_t kPackedGemmMaxColumns = 32;

// A (M x K) rearranged for packed_sgemm: panels of kRows rows, each stored k-major (the kRows
// values of column k together), the rows past M zero.
class PackedMatrix {
 public:
  static constexpr int64_t kRows = 6;

  PackedMatrix() = default;
  // A is row-major with leading dimension lda.
  PackedMatrix(const float* a, int64_t rows, int64_t cols, int64_t lda);

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  bool empty() const { return data_.empty(); }
  // Panel p: cols() * kRows floats.
  const float* panel(int64_t p) const { return data_.data() + p * cols_ * kRows; }

 private:
  int64_t rows_ = 0, cols_ = 0;
  std::vector<float> data_;
};

// C rows [row0, row0 + rows) = A's rows [row0, row0 + rows) * B, where B is (A.cols() x N)
// row-major with leading dimension ldb, and C's row r is at c + (r - row0) * ldc. row0 must be
// a multiple of PackedMatrix::kRows. Runs on the calling thread. Each element is one chain of
// multiply-adds over k in order, so results do not depend on how rows or columns are split
// between calls; they may differ from sgemm's in the last bits.
void packed_sgemm(const PackedMatrix& a, int64_t row0, int64_t rows, int64_t N, const float* b, int64_t ldb,
                  float* c, int64_t ldc);

// The same product by plain loops over the unpacked A (M x K, leading dimension lda), in the
// same order of operations: the reference packed_sgemm is tested against.
void packed_sgemm_reference(const float* a, int64_t lda, int64_t K, int64_t row0, int64_t rows, int64_t N,
                            const float* b, int64_t ldb, float* c, int64_t ldc);

}  // namespace spdinfer

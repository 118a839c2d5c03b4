// Packed-weight GEMM (see packed_gemm.h). The kernel keeps a 6 x 16 block of C in twelve
// 8-float registers: per k it loads two vectors of B's row and multiplies them by each of the
// panel's six weights, 12 multiply-adds for 8 loads, so it runs near the multiply-add
// throughput while the weights stream through once.
#include "engine/packed_gemm.h"

#include <algorithm>
#include <cstring>

#include "engine/vec8.h"

namespace spdinfer {
namespace {

constexpr int64_t kRows = PackedMatrix::kRows;
constexpr int64_t kBlockCols = 16;  // columns of C per kernel call: two vectors

// k values summed in registers before the sum goes to `out`: one register chain over all of K
// (4608 for a 3x3 conv of 512 channels) lost 4-8x the precision of a blocked GEMM (as sgemm's
// kGemmBlockK blocks), more than PyTorch fp32 loses; the extra loads and stores are one per 256 k.
constexpr int64_t kBlockK = 256;

// out (kRows x kBlockCols, leading dimension ldo) = panel (K x kRows, k-major) * b (K x 16, ldb).
void kernel_6x16(int64_t K, const float* panel, const float* b, int64_t ldb, float* out, int64_t ldo) {
  for (int64_t k0 = 0; k0 < K || k0 == 0; k0 += kBlockK) {
    Vec8 acc[kRows][2] = {};
    for (int64_t k = k0; k < std::min(K, k0 + kBlockK); ++k, panel += kRows, b += ldb) {
      const Vec8 b0 = load8(b), b1 = load8(b + 8);
      for (int64_t r = 0; r < kRows; ++r) {
        acc[r][0] += panel[r] * b0;
        acc[r][1] += panel[r] * b1;
      }
    }
    for (int64_t r = 0; r < kRows; ++r) {
      float* o = out + r * ldo;
      store8(o, k0 == 0 ? acc[r][0] : acc[r][0] + load8(o));
      store8(o + 8, k0 == 0 ? acc[r][1] : acc[r][1] + load8(o + 8));
    }
  }
}

}  // namespace

PackedMatrix::PackedMatrix(const float* a, int64_t rows, int64_t cols, int64_t lda)
    : rows_(rows),
      cols_(cols),
      data_(static_cast<std::size_t>((rows + kRows - 1) / kRows * kRows * cols), 0.0f) {
  for (int64_t r = 0; r < rows; ++r) {
    float* dst = data_.data() + (r / kRows) * cols * kRows + r % kRows;
    const float* src = a + r * lda;
    for (int64_t k = 0; k < cols; ++k) dst[k * kRows] = src[k];
  }
}

void packed_sgemm(const PackedMatrix& a, int64_t row0, int64_t rows, int64_t N, const float* b, int64_t ldb,
                  float* c, int64_t ldc) {
  const int64_t K = a.cols();
  // B's last columns, fewer than a block, copied next to zeros so the kernel reads whole rows;
  // and a block of C for panels or column blocks that C cannot take whole. Per thread, grown
  // to the largest size seen: no allocation in the steady state.
  thread_local std::vector<float> tail_columns;
  float block[kRows * kBlockCols];
  const int64_t full_cols = N / kBlockCols * kBlockCols, tail = N - full_cols;
  if (tail) {
    tail_columns.assign(static_cast<std::size_t>(K * kBlockCols), 0.0f);
    for (int64_t k = 0; k < K; ++k)
      std::memcpy(tail_columns.data() + k * kBlockCols, b + k * ldb + full_cols, tail * sizeof(float));
  }
  for (int64_t r = 0; r < rows; r += kRows) {
    const float* panel = a.panel((row0 + r) / kRows);
    const int64_t panel_rows = std::min(kRows, rows - r);
    float* c_rows = c + r * ldc;
    for (int64_t n = 0; n < full_cols; n += kBlockCols) {
      if (panel_rows == kRows) {
        kernel_6x16(K, panel, b + n, ldb, c_rows + n, ldc);
        continue;
      }
      kernel_6x16(K, panel, b + n, ldb, block, kBlockCols);
      for (int64_t i = 0; i < panel_rows; ++i)
        std::memcpy(c_rows + i * ldc + n, block + i * kBlockCols, kBlockCols * sizeof(float));
    }
    if (tail) {
      kernel_6x16(K, panel, tail_columns.data(), kBlockCols, block, kBlockCols);
      for (int64_t i = 0; i < panel_rows; ++i)
        std::memcpy(c_rows + i * ldc + full_cols, block + i * kBlockCols, tail * sizeof(float));
    }
  }
}

void packed_sgemm_reference(const float* a, int64_t lda, int64_t K, int64_t row0, int64_t rows, int64_t N,
                            const float* b, int64_t ldb, float* c, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < N; ++n) {
      double sum = 0.0;
      for (int64_t k = 0; k < K; ++k) sum += double{a[(row0 + r) * lda + k]} * b[k * ldb + n];
      c[r * ldc + n] = static_cast<float>(sum);
    }
}

}  // namespace spdinfer

// The engine's int8 GEMM: C (M x N, int32) = A (M x K, int8) * (B - 128) [+ C], where B (K x N)
// holds uint8 values q + 128 of signed q in [-127, 127] (a quantised activation and its zero
// point: engine/ops/conv2d_int8.h). The kernels multiply unsigned B by signed A (what vpdpbusd
// does), so each row of A comes with the compensation -128 * (its sum), added once per element.
// Every sum is exact (|C| < 2^31 is the caller's to ensure: K * 127 * 127 < 2^31 suffices), so
// every family gives the reference's bits.
//
// The blocking is sgemm's (engine/kernels/sgemm.h): A, the weights, packed once into the family's
// panels of MR rows (QgemmPackedA), K in blocks whose slice of a B panel (NR columns) stays in L1
// while A's block streams from L2. B is packed by the caller per block of columns
// (qgemm_pack_b), which lets a convolution build it from its quantised input.
//
// Not here: threading (callers split C's columns over the engine's threads), quantisation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "engine/kernels/cpu_features.h"
#include "engine/kernels/qgemm_kernels.h"

namespace spdinfer {

// Whether this CPU runs the family; when not, `missing` (if given) names what it lacks.
bool qgemm_supported(QgemmFamily family, const char** missing = nullptr);

// The family of int8 kernels that goes with an instruction family (engine/kernels/cpu_features.h):
// avx512 -> avx512-vnni when the CPU has AVX512-VNNI, else as avx2; avx2 -> avx-vnni when the
// CPU has AVX-VNNI and avx2 was not forced (SPDINFER_ISA), else avx2; generic -> generic. So
// SPDINFER_ISA=avx2 runs the AVX2 kernel even on a VNNI CPU, and tests reach every family.
QgemmFamily qgemm_family_for(Isa isa, bool isa_forced = false);

// The kernel of a family (any; the caller checks qgemm_supported), and the one this process uses:
// qgemm_family_for(active_isa(), whether SPDINFER_ISA chose it).
const QgemmKernel& qgemm_kernel(QgemmFamily family);
const QgemmKernel& qgemm_kernel();

// Values of k per block, a multiple of 4: a B panel's slice of kernel.nr columns stays in L1.
inline constexpr int64_t kQgemmBlockK = 512;
// K cut into equal blocks of at most kQgemmBlockK, in groups of 4: the groups per block.
inline int64_t qgemm_block_groups(int64_t K) {
  const int64_t groups = (K + 3) / 4, max_groups = kQgemmBlockK / 4;
  const int64_t blocks = (groups + max_groups - 1) / max_groups;
  return blocks > 0 ? (groups + blocks - 1) / blocks : 1;
}

// A (rows x cols, int8, leading dimension lda) in the kernel's panels, for each block of k every
// panel (engine/kernels/qgemm_kernels.h), with each row's compensation -128 * sum of the row.
// Made once, multiplied many times; tied to the family it was packed for.
class QgemmPackedA {
 public:
  QgemmPackedA() = default;
  QgemmPackedA(const QgemmKernel& kernel, const int8_t* a, int64_t rows, int64_t cols, int64_t lda);

  const QgemmKernel& kernel() const { return *kernel_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  // The panel holding row `row` (a multiple of mr) in the block of k starting at group g0.
  const void* panel(int64_t row, int64_t g0) const;
  const int32_t* compensation() const { return compensation_.data(); }

 private:
  const QgemmKernel* kernel_ = nullptr;
  int64_t rows_ = 0, cols_ = 0, padded_rows_ = 0, groups_ = 0, block_groups_ = 0, group_bytes_ = 0;
  std::vector<int8_t> data_;
  std::vector<int32_t> compensation_;
};

// Bytes of B (K x N) packed for the kernel: N rounded up to panels of nr columns, K to groups of 4.
std::size_t qgemm_packed_b_bytes(const QgemmKernel& kernel, int64_t K, int64_t N);
// B (K x N, uint8, row-major with leading dimension ldb) into `out` (qgemm_packed_b_bytes): panel
// p of nr columns at out + p * ceil(K / 4) * nr * 4, each laid out as the kernels read it.
void qgemm_pack_b(const QgemmKernel& kernel, int64_t K, int64_t N, const uint8_t* B, int64_t ldb, uint8_t* out);

// Where column j of the group g of values of k (4 g .. 4 g + 3) lies in B packed for K rows: its
// 4 bytes at packed + qgemm_packed_b_offset(kernel, K, g, j).
inline int64_t qgemm_packed_b_offset(const QgemmKernel& kernel, int64_t K, int64_t g, int64_t j) {
  return (j / kernel.nr) * ((K + 3) / 4) * kernel.nr * 4 + g * kernel.nr * 4 + (j % kernel.nr) * 4;
}
// 16 consecutive columns of one group, 16 bytes from each of rows[0..3] (values of k 4 g + t),
// interleaved into the 64 bytes a packed B holds for them (at qgemm_packed_b_offset of the first,
// a multiple of 16): for callers that build B's panels themselves (a convolution's im2col).
// Inline: it runs once per 64 bytes of B. SSE2, the x86-64 baseline, so any file may include it.
inline void qgemm_interleave16(const uint8_t* const rows[4], uint8_t* out) {
#if defined(__SSE2__)
  // Interleaving bytes, then pairs, puts each column's 4 bytes together (a 4 x 16 byte transpose).
  const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[0]));
  const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[1]));
  const __m128i x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[2]));
  const __m128i x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[3]));
  const __m128i lo01 = _mm_unpacklo_epi8(x0, x1), hi01 = _mm_unpackhi_epi8(x0, x1);
  const __m128i lo23 = _mm_unpacklo_epi8(x2, x3), hi23 = _mm_unpackhi_epi8(x2, x3);
  __m128i* dst = reinterpret_cast<__m128i*>(out);
  _mm_storeu_si128(dst, _mm_unpacklo_epi16(lo01, lo23));
  _mm_storeu_si128(dst + 1, _mm_unpackhi_epi16(lo01, lo23));
  _mm_storeu_si128(dst + 2, _mm_unpacklo_epi16(hi01, hi23));
  _mm_storeu_si128(dst + 3, _mm_unpackhi_epi16(hi01, hi23));
#else
  for (int j = 0; j < 16; ++j)
    for (int t = 0; t < 4; ++t) out[j * 4 + t] = rows[t][j];
#endif
}

// Rows [row0, row0 + rows) of C = those rows of A * (B - 128) [+ C], B packed by qgemm_pack_b for
// a.cols() rows and N columns, C's first row at c (leading dimension ldc). row0 must be a
// multiple of the kernel's mr.
void qgemm_packed(const QgemmPackedA& a, int64_t row0, int64_t rows, int64_t N, const uint8_t* packed_b, int32_t* c,
                  int64_t ldc, bool accumulate = false);

// The whole product from unpacked operands (both packed per call): for tests and one-off uses.
void qgemm(const QgemmKernel& kernel, int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda,
           const uint8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate = false);

// Plain loops: C = A * (B - 128) [+ C], what every family is tested against.
void qgemm_reference(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const uint8_t* B, int64_t ldb,
                     int32_t* C, int64_t ldc, bool accumulate = false);

}  // namespace spdinfer

// Loop order (outer to inner), with the cache each block is sized for:
//   k0 over K in kGemmBlockK blocks;
//     n0 over N in kBlockN blocks: pack B's (kc x nc) block into panels of NR columns (L3/L2),
//                                  unless A has so few rows that B is read straight (below);
//       m0 over M in kBlockM blocks: pack A's (mc x kc) block into panels of MR rows (L2),
//                                    unless A was packed at plan time or B has so few columns
//                                    that A is read where it lies (kUnpackedAMaxColumns);
//         each B panel (kc x NR, L1) against every A panel of the block: the micro-kernel.
// Except for products of at most one panel of columns with A read where it lies
// (gemm_streamed_a): all of B is packed first, then each panel of A's rows runs through every
// block of k before the next, so that A streams from memory once, row by row, in order.
#include "engine/kernels/sgemm.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"

namespace spdinfer {
namespace {

// Rows of A per packed block: 256 rows x 256 values of k = 256 KiB, half of a small L2.
constexpr int64_t kBlockM = 256;
// Columns of B per packed block: 256 x 1024 floats = 1 MiB; a B panel is read once per A block,
// so a larger block only costs packing memory.
constexpr int64_t kBlockN = 1024;
// Up to this many panels of A rows, the kernels read a row-major B where it lies instead of a
// packed copy: a B element then serves so few multiply-adds that copying it costs more than the
// strided reads (measured on AVX-512 with K = 288, N = 6400: 16 rows 58 -> 80 GFLOP/s, 32 rows
// 85 -> 102; at 64 rows packing wins again, 121 against 108 with K = 64).
constexpr int64_t kDirectBMaxPanels = 4;
// ... and while B's rows lie close: each step of k reads another row, and rows 100 KiB apart (a
// 1x1 convolution's input planes at 160x160) defeat the prefetcher. Thread CPU time, 16 x 128 A,
// 25600 columns: 3.0-3.5 ms packed, 4.2-4.8 read where they lie; even at 6400 and 12800.
constexpr int64_t kDirectBMaxRowStride = 16384;
// Up to this many columns of B, the kernels read A's rows where they lie instead of a packed
// copy: each A value then serves so few multiply-adds that packing it costs about as much as
// using it, while eight row streams read as fast as one packed stream. Measured on AVX-512
// (GFLOP/s, unpacked against packed on every call, against packed once): 2048 x 512 A, 16
// columns 46 / 24 / 48; 1024 x 256, 64 columns 98 / 66 / 97; 512 x 2304, 256 columns 103 / 54 / 119;
// 128 x 1152, 1024 columns 68 / 58. The results are the same bit for bit either way.
constexpr int64_t kUnpackedAMaxColumns = 512;

// Packing scratch, per thread (callers run gemm on several threads at once). It grows to the
// largest block seen and is then reused: no allocation in the steady state.
struct Scratch {
  std::vector<float> a, b;
};

Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

float* grow(std::vector<float>& v, int64_t floats) {
  if (v.size() < static_cast<std::size_t>(floats)) v.resize(static_cast<std::size_t>(floats));
  return v.data();
}

// A's rows [m0, m0 + mc) and columns [k0, k0 + kc) as panels of mr rows, each kc long; rows past
// `rows_in_matrix` zero.
void pack_a(const float* A, int64_t lda, int64_t rows_in_matrix, int64_t m0, int64_t mc, int64_t k0, int64_t kc,
            int mr, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr, out += kc * mr) {
    const int64_t h = std::min<int64_t>(mr, rows_in_matrix - (m0 + i0));
    for (int64_t r = 0; r < mr; ++r) {
      if (r >= h) {
        for (int64_t k = 0; k < kc; ++k) out[k * mr + r] = 0.0f;
        continue;
      }
      const float* src = A + (m0 + i0 + r) * lda + k0;
      for (int64_t k = 0; k < kc; ++k) out[k * mr + r] = src[k];
    }
  }
}

// B (K x N) row-major, or transposed: (N x K) row-major.
struct BMatrix {
  const float* b;
  int64_t ldb;
  GemmLayout layout;
  // Rows [k0, k0 + kc) and columns [n0, n0 + nc) as panels of nr columns, k-major, columns past
  // nc zero: panel p at out + p * kc * nr.
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* out) const;
};

// Where a block's A panels come from: packed now into scratch, packed at plan time, or (few
// columns of B) A's rows where they lie.
struct ASource {
  const float* A = nullptr;  // unpacked, when packed == null
  int64_t lda = 0;
  const GemmPackedA* packed = nullptr;
  int64_t row0 = 0;  // the packed rows' offset (gemm_packed's row0)
};

// The product of at most kernel.nr columns with A's rows read where they lie. A's rows are then
// the product's whole cost: each value of A serves one multiply-add per column, so at 16 columns
// the kernel is bound by reading A from memory. Blocked as above, each row would be read 1 KiB
// at a time (a block of k), too little for the hardware prefetcher to get ahead; here each panel
// of rows is read through every block of k in turn, prefetched ahead by the kernel, while all of
// B (K x up to nr floats) waits packed in L2. The same blocks of k as gemm_blocked, so the same
// bits. On a Zen 5 EPYC, one core, A from memory, 16 columns: 2048 x 2048 A 1.27 -> 1.03 ms,
// 512 x 4608 0.75 -> 0.52, 2048 x 512 0.50 -> 0.33.
void gemm_streamed_a(const GemmMicroKernel& kernel, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                     const BMatrix& b, float* C, int64_t ldc, bool accumulate) {
  const int64_t block_k = gemm_k_block(K);
  // B's panel as narrow as its columns allow, in whole vectors: the kernel reads no more.
  const int64_t width = (N + kernel.lanes - 1) / kernel.lanes * kernel.lanes;
  // B is read where it lies when its rows are whole vectors and either lie packed already (a 1x1
  // convolution's input planes of 16 positions) or A has so few rows that packing would not pay
  // (as in gemm_blocked); otherwise it is packed, all of it.
  const bool direct = b.layout == GemmLayout::RowMajor && N == width &&
                      (b.ldb == width || (M <= kDirectBMaxPanels * kernel.mr && b.ldb <= kDirectBMaxRowStride));
  const float* bp = b.b;
  const int64_t ldb = direct ? b.ldb : width;
  if (!direct) {
    float* packed = grow(thread_scratch().b, K * width);
    for (int64_t k0 = 0; k0 < K; k0 += block_k)
      b.pack(k0, std::min(block_k, K - k0), 0, N, static_cast<int>(width), packed + k0 * width);
    bp = packed;
  }
  const int cols = static_cast<int>(N);
  for (int64_t m0 = 0; m0 < M; m0 += kernel.mr) {
    const int rows = static_cast<int>(std::min<int64_t>(kernel.mr, M - m0));
    for (int64_t k0 = 0; k0 < K; k0 += block_k)
      kernel.run_streamed_a(std::min(block_k, K - k0), A + m0 * lda + k0, lda, bp + k0 * ldb, ldb, C + m0 * ldc, ldc,
                            rows, cols, accumulate || k0 > 0);
  }
}

void gemm_blocked(const GemmMicroKernel& kernel, int64_t M, int64_t N, int64_t K, const ASource& a, const BMatrix& b,
                  float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.0f);
    return;
  }
  if (!a.packed && N <= kernel.nr) return gemm_streamed_a(kernel, M, N, K, a.A, a.lda, b, C, ldc, accumulate);
  Scratch& scratch = thread_scratch();
  const int mr = kernel.mr, nr = kernel.nr;
  const int64_t block_m = kBlockM / mr * mr;
  // A row-major B is read where it lies (B, ldb) when A has few panels of rows.
  const bool direct = M <= kDirectBMaxPanels * mr && b.layout == GemmLayout::RowMajor && b.ldb <= kDirectBMaxRowStride;
  const float* B = direct ? b.b : nullptr;
  const int64_t ldb = b.ldb;
  const bool unpacked_a = !a.packed && N <= kUnpackedAMaxColumns;
  const int64_t block_k = gemm_k_block(K);
  for (int64_t k0 = 0; k0 < K; k0 += block_k) {
    const int64_t kc = std::min(block_k, K - k0);
    const bool add = accumulate || k0 > 0;
    for (int64_t n0 = 0; n0 < N; n0 += kBlockN) {
      const int64_t nc = std::min(kBlockN, N - n0);
      float* bp = grow(scratch.b, kc * ((nc + nr - 1) / nr * nr));
      const bool direct_b = B != nullptr;
      if (!direct_b) b.pack(k0, kc, n0, nc, nr, bp);
      for (int64_t m0 = 0; m0 < M; m0 += block_m) {
        const int64_t mc = std::min(block_m, M - m0);
        const float* ap;
        int64_t a_panel_stride;
        if (unpacked_a) {
          ap = a.A + m0 * a.lda + k0;
          a_panel_stride = mr * a.lda;
        } else if (a.packed) {
          ap = a.packed->panel(a.row0 + m0, k0);
          a_panel_stride = kc * mr;
        } else {
          float* buffer = grow(scratch.a, kc * ((mc + mr - 1) / mr * mr));
          pack_a(a.A, a.lda, M, m0, mc, k0, kc, mr, buffer);
          ap = buffer;
          a_panel_stride = kc * mr;
        }
        for (int64_t j0 = 0; j0 < nc; j0 += nr) {
          const int cols = static_cast<int>(std::min<int64_t>(nr, nc - j0));
          const float* b_panel = bp + j0 * kc;
          int64_t b_ld = nr;
          if (direct_b && cols == nr) {
            b_panel = B + k0 * ldb + n0 + j0;
            b_ld = ldb;
          } else if (direct_b) {  // a column tail: the kernel reads nr columns, so pad a copy
            b.pack(k0, kc, n0 + j0, cols, nr, bp);
            b_panel = bp;
          }
          for (int64_t i0 = 0; i0 < mc; i0 += mr) {
            const int rows = static_cast<int>(std::min<int64_t>(mr, mc - i0));
            float* c = C + (m0 + i0) * ldc + n0 + j0;
            const float* a_panel = ap + (i0 / mr) * a_panel_stride;
            if (unpacked_a)
              kernel.run_unpacked_a(kc, a_panel, a.lda, b_panel, b_ld, c, ldc, rows, cols, add);
            else
              kernel.run(kc, a_panel, b_panel, b_ld, c, ldc, rows, cols, add);
          }
        }
      }
    }
  }
}

}  // namespace

void BMatrix::pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* out) const {
  const float* B = b;
  for (int64_t j0 = 0; j0 < nc; j0 += nr, out += kc * nr) {
    const int64_t w = std::min<int64_t>(nr, nc - j0);
    if (layout == GemmLayout::RowMajor) {
      const float* src = B + k0 * ldb + n0 + j0;
      for (int64_t k = 0; k < kc; ++k, src += ldb) {
        float* dst = out + k * nr;
        std::memcpy(dst, src, sizeof(float) * w);
        std::fill(dst + w, dst + nr, 0.0f);
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = out + k * nr;
        const float* src = B + (n0 + j0) * ldb + k0 + k;
        for (int64_t j = 0; j < w; ++j) dst[j] = src[j * ldb];
        std::fill(dst + w, dst + nr, 0.0f);
      }
    }
  }
}

const GemmMicroKernel& gemm_micro_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return gemm_micro_kernel_avx512();
    case Isa::Avx2: return gemm_micro_kernel_avx2();
    case Isa::Generic: break;
  }
  return gemm_micro_kernel_generic();
}

GemmPackedA::GemmPackedA(const GemmMicroKernel& kernel, const float* a, int64_t rows, int64_t cols, int64_t lda)
    : kernel_(&kernel), rows_(rows), cols_(cols) {
  padded_rows_ = (rows + kernel.mr - 1) / kernel.mr * kernel.mr;
  block_k_ = gemm_k_block(cols);
  data_.resize(static_cast<std::size_t>(padded_rows_ * cols));
  for (int64_t k0 = 0; k0 < cols; k0 += block_k_)
    pack_a(a, lda, rows, 0, padded_rows_, k0, std::min(block_k_, cols - k0), kernel.mr,
           data_.data() + k0 * padded_rows_);
}

void gemm(const GemmMicroKernel& kernel, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
          const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate, GemmLayout b_layout) {
  ASource a;
  a.A = A;
  a.lda = lda;
  gemm_blocked(kernel, M, N, K, a, BMatrix{B, ldb, b_layout}, C, ldc, accumulate);
}

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
          int64_t ldc, bool accumulate, GemmLayout b_layout) {
  static const GemmMicroKernel& kernel = gemm_micro_kernel(active_isa());
  gemm(kernel, M, N, K, A, lda, B, ldb, C, ldc, accumulate, b_layout);
}

void gemm_packed(const GemmPackedA& a, int64_t row0, int64_t rows, int64_t N, const float* B, int64_t ldb,
                 float* c, int64_t ldc, bool accumulate, GemmLayout b_layout) {
  if (row0 % a.kernel().mr != 0 || row0 < 0 || rows < 0 || row0 + rows > a.rows())
    throw Error("gemm_packed: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                ") do not start on a panel of " + std::to_string(a.kernel().mr) + " rows within the matrix's " +
                std::to_string(a.rows()));
  ASource source;
  source.packed = &a;
  source.row0 = row0;
  gemm_blocked(a.kernel(), rows, N, a.cols(), source, BMatrix{B, ldb, b_layout}, c, ldc, accumulate);
}

void gemm_reference(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, bool accumulate, GemmLayout b_layout) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = accumulate ? C[i * ldc + j] : 0.0;
      for (int64_t k = 0; k < K; ++k)
        sum += double{A[i * lda + k]} * (b_layout == GemmLayout::RowMajor ? B[k * ldb + j] : B[j * ldb + k]);
      C[i * ldc + j] = static_cast<float>(sum);
    }
}

}  // namespace spdinfer

// Loop order (outer to inner), with the cache each block is sized for:
//   g0 over K in blocks of qgemm_block_groups groups of 4 values of k;
//     each B panel's slice (kc x NR bytes, L1) against every A panel of the block (L2): the
//     micro-kernel, which adds the rows' compensation in the first block of k.
// B is packed whole (every block of k) by the caller, once per tile of columns, so the loop has
// no packing of its own; A was packed at plan time.
#include "engine/kernels/qgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/error.h"

namespace spdinfer {

bool qgemm_supported(QgemmFamily family, const char** missing) {
  const CpuFeatures& f = cpu_features();
  const char* lacks = nullptr;
  switch (family) {
    case QgemmFamily::Generic: break;
    case QgemmFamily::Avx2:
      if (!isa_supported(Isa::Avx2)) lacks = "avx2";
      break;
    case QgemmFamily::AvxVnni:
      if (!isa_supported(Isa::Avx2)) lacks = "avx2";
      else if (!f.avx_vnni) lacks = "avx_vnni";
      break;
    case QgemmFamily::Avx512Vnni:
      if (!isa_supported(Isa::Avx512)) lacks = "avx512";
      else if (!f.avx512_vnni) lacks = "avx512_vnni";
      break;
  }
  if (missing) *missing = lacks;
  return lacks == nullptr;
}

QgemmFamily qgemm_family_for(Isa isa, bool isa_forced) {
  switch (isa) {
    case Isa::Avx512:
      if (qgemm_supported(QgemmFamily::Avx512Vnni)) return QgemmFamily::Avx512Vnni;
      return qgemm_supported(QgemmFamily::AvxVnni) ? QgemmFamily::AvxVnni : QgemmFamily::Avx2;
    case Isa::Avx2:
      return !isa_forced && qgemm_supported(QgemmFamily::AvxVnni) ? QgemmFamily::AvxVnni : QgemmFamily::Avx2;
    case Isa::Generic: break;
  }
  return QgemmFamily::Generic;
}

const QgemmKernel& qgemm_kernel(QgemmFamily family) {
  switch (family) {
    case QgemmFamily::Avx512Vnni: return qgemm_kernel_avx512_vnni();
    case QgemmFamily::Avx2: return qgemm_kernel_avx2();
    case QgemmFamily::AvxVnni: return qgemm_kernel_avx_vnni();
    case QgemmFamily::Generic: break;
  }
  return qgemm_kernel_generic();
}

const QgemmKernel& qgemm_kernel() {
  static const QgemmKernel& kernel = [] () -> const QgemmKernel& {
    const char* forced = std::getenv("SPDINFER_ISA");
    return qgemm_kernel(qgemm_family_for(active_isa(), forced && *forced));
  }();
  return kernel;
}

QgemmPackedA::QgemmPackedA(const QgemmKernel& kernel, const int8_t* a, int64_t rows, int64_t cols, int64_t lda)
    : kernel_(&kernel), rows_(rows), cols_(cols) {
  const int mr = kernel.mr;
  padded_rows_ = (rows + mr - 1) / mr * mr;
  groups_ = (cols + 3) / 4;
  block_groups_ = qgemm_block_groups(cols);
  group_bytes_ = kernel.a_int16 ? 8 : 4;
  data_.assign(static_cast<std::size_t>(padded_rows_ * groups_ * group_bytes_), 0);
  compensation_.assign(static_cast<std::size_t>(padded_rows_), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t sum = 0;
    for (int64_t k = 0; k < cols; ++k) sum += a[r * lda + k];
    // Modulo 2^32 like every other sum here (it can pass int32 when K nears its limit).
    compensation_[r] = static_cast<int32_t>(static_cast<uint32_t>(-128 * sum));
  }
  for (int64_t g0 = 0; g0 < groups_; g0 += block_groups_) {
    const int64_t kcg = std::min(block_groups_, groups_ - g0);
    for (int64_t row = 0; row < rows; ++row) {
      int8_t* panel = data_.data() + g0 * padded_rows_ * group_bytes_ + (row / mr) * kcg * mr * group_bytes_;
      const int64_t r = row % mr;
      for (int64_t g = 0; g < kcg; ++g)
        for (int t = 0; t < 4; ++t) {
          const int64_t k = 4 * (g0 + g) + t;
          const int8_t v = k < cols ? a[row * lda + k] : 0;
          if (kernel.a_int16) {
            const int16_t wide = v;  // even values of k first, then odd: t = 0, 2, 1, 3
            std::memcpy(panel + (g * mr * 4 + r * 4 + (t % 2) * 2 + t / 2) * 2, &wide, sizeof wide);
          } else {
            panel[g * mr * 4 + r * 4 + t] = v;
          }
        }
    }
  }
}

const void* QgemmPackedA::panel(int64_t row, int64_t g0) const {
  return data_.data() + g0 * padded_rows_ * group_bytes_ + row * std::min(block_groups_, groups_ - g0) * group_bytes_;
}

std::size_t qgemm_packed_b_bytes(const QgemmKernel& kernel, int64_t K, int64_t N) {
  const int64_t panels = (N + kernel.nr - 1) / kernel.nr;
  return static_cast<std::size_t>(panels * kernel.nr * ((K + 3) / 4) * 4);
}

void qgemm_pack_b(const QgemmKernel& kernel, int64_t K, int64_t N, const uint8_t* B, int64_t ldb, uint8_t* out) {
  const int64_t nr = kernel.nr, groups = (K + 3) / 4, panel_bytes = groups * nr * 4;
  const int64_t padded_n = (N + nr - 1) / nr * nr;
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* row[4];
    for (int t = 0; t < 4; ++t) row[t] = 4 * g + t < K ? B + (4 * g + t) * ldb : nullptr;
    int64_t j = 0;
    if (row[3])
      for (; j + 16 <= N; j += 16) {
        const uint8_t* const rows[4] = {row[0] + j, row[1] + j, row[2] + j, row[3] + j};
        qgemm_interleave16(rows, out + (j / nr) * panel_bytes + g * nr * 4 + (j % nr) * 4);
      }
    // The rest, and the padding: 128 (the zero point) past K and past N. The columns past N lie
    // together at the end of the last panel: one fill, not a byte at a time (a small plane's
    // few columns would otherwise spend most of the packing on them).
    for (; j < N; ++j) {
      uint8_t* dst = out + (j / nr) * panel_bytes + g * nr * 4 + (j % nr) * 4;
      for (int t = 0; t < 4; ++t) dst[t] = row[t] ? row[t][j] : uint8_t{128};
    }
    if (N < padded_n)
      std::memset(out + (N / nr) * panel_bytes + g * nr * 4 + (N % nr) * 4, 128,
                  static_cast<std::size_t>(padded_n - N) * 4);
  }
}

void qgemm_packed(const QgemmPackedA& a, int64_t row0, int64_t rows, int64_t N, const uint8_t* packed_b, int32_t* c,
                  int64_t ldc, bool accumulate) {
  const QgemmKernel& kernel = a.kernel();
  const int mr = kernel.mr, nr = kernel.nr;
  if (row0 % mr != 0 || row0 < 0 || rows < 0 || row0 + rows > a.rows())
    throw Error("qgemm_packed: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                ") do not start on a panel of " + std::to_string(mr) + " rows within the matrix's " +
                std::to_string(a.rows()));
  if (rows == 0 || N <= 0) return;
  const int64_t groups = (a.cols() + 3) / 4, block = qgemm_block_groups(a.cols()), panel_bytes = groups * nr * 4;
  if (groups == 0) {
    if (!accumulate)
      for (int64_t i = 0; i < rows; ++i) std::fill(c + i * ldc, c + i * ldc + N, 0);
    return;
  }
  const int32_t* compensation = a.compensation() + row0;
  for (int64_t g0 = 0; g0 < groups; g0 += block) {
    const int64_t kcg = std::min(block, groups - g0);
    const bool first = g0 == 0;
    for (int64_t j0 = 0; j0 < N; j0 += nr) {
      const uint8_t* b = packed_b + (j0 / nr) * panel_bytes + g0 * nr * 4;
      const int cols = static_cast<int>(std::min<int64_t>(nr, N - j0));
      for (int64_t i0 = 0; i0 < rows; i0 += mr)
        kernel.run(kcg, a.panel(row0 + i0, g0), b, first ? compensation + i0 : nullptr, c + i0 * ldc + j0, ldc,
                   static_cast<int>(std::min<int64_t>(mr, rows - i0)), cols, accumulate || !first);
    }
  }
}

void qgemm(const QgemmKernel& kernel, int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda,
           const uint8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate) {
  const QgemmPackedA a(kernel, A, M, K, lda);
  std::vector<uint8_t> b(qgemm_packed_b_bytes(kernel, K, N));
  qgemm_pack_b(kernel, K, N, B, ldb, b.data());
  qgemm_packed(a, 0, M, N, b.data(), C, ldc, accumulate);
}

void qgemm_reference(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const uint8_t* B, int64_t ldb,
                     int32_t* C, int64_t ldc, bool accumulate) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      int64_t sum = accumulate ? C[i * ldc + j] : 0;
      for (int64_t k = 0; k < K; ++k) sum += int64_t{A[i * lda + k]} * (int64_t{B[k * ldb + j]} - 128);
      C[i * ldc + j] = static_cast<int32_t>(sum);
    }
}

}  // namespace spdinfer

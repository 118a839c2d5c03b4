// The engine's GEMM (engine/kernels/sgemm.h), every instruction family this CPU has, against the
// double-precision reference: shapes around each kernel's block (partial row panels, column tails,
// one and several blocks of k), both layouts of B, accumulation, leading dimensions wider than
// the product (nothing written outside it); A packed at plan time, packed per call and read
// unpacked (few columns) give the same bits; the same bits however rows and columns are split
// between calls (what makes a convolution's result independent of its thread count); each family's dot-product kernel for
// products of few columns; and OpenBLAS, the reference twin, agrees.
// A family the CPU lacks is skipped with a line naming it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/kernels/blas.h"
#include "engine/kernels/cpu_features.h"
#include "engine/kernels/sgemm.h"

using namespace spdinfer;

namespace {

std::vector<float> random_floats(int64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

// The family's kernel, or null (after a line saying why) when this CPU lacks it.
const GemmMicroKernel* kernel_if_supported(Isa isa) {
  if (isa_supported(isa)) return &gemm_micro_kernel(isa);
  WARN("skipped: this CPU lacks " << isa_name(isa) << " (it has: " << cpu_feature_list(cpu_features()) << ")");
  return nullptr;
}

// Counts elements of C (M x ldc) that differ from `want` beyond a tolerance for values in
// [-1, 1] summed over K terms, or, past column N, that are not the fill value.
int count_wrong(const std::vector<float>& got, const std::vector<float>& want, int64_t M, int64_t N, int64_t ldc,
                int64_t K, float fill) {
  const float tolerance = 1e-6f * static_cast<float>(K + 8);
  int wrong = 0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t n = 0; n < ldc; ++n) {
      const float g = got[r * ldc + n], w = want[r * ldc + n];
      const bool ok = n < N ? std::fabs(g - w) <= tolerance : g == fill;
      if (!ok && ++wrong <= 5) FAIL_CHECK("C[" << r << "][" << n << "] = " << g << ", want " << w);
    }
  return wrong;
}

}  // namespace

TEST_CASE("gemm matches the reference in every family", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  const int64_t M = GENERATE(1, 3, 8, 13, 37);
  const int64_t N = GENERATE(1, 5, 24, 33, 70);
  const int64_t K = GENERATE(1, 7, 257, 520);
  const bool transposed = GENERATE(false, true);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(isa_name(isa), M, N, K, transposed, accumulate);
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  const int64_t pad = 3, lda = K + pad, ldc = N + pad;
  const int64_t ldb = transposed ? K + pad : N + pad;
  const GemmLayout layout = transposed ? GemmLayout::Transposed : GemmLayout::RowMajor;
  const auto a = random_floats(M * lda, 1), b = random_floats((transposed ? N : K) * ldb, 2);
  const float fill = -7.0f;
  std::vector<float> got = random_floats(M * ldc, 3);
  for (int64_t r = 0; r < M; ++r) std::fill(got.begin() + r * ldc + N, got.begin() + (r + 1) * ldc, fill);
  std::vector<float> want = got;
  gemm(*kernel, M, N, K, a.data(), lda, b.data(), ldb, got.data(), ldc, accumulate, layout);
  gemm_reference(M, N, K, a.data(), lda, b.data(), ldb, want.data(), ldc, accumulate, layout);
  CHECK(count_wrong(got, want, M, N, ldc, K, fill) == 0);

  // Packed at plan time: the same bits, from the first panel and from a later one.
  const GemmPackedA packed(*kernel, a.data(), M, K, lda);
  for (int64_t row0 : {int64_t{0}, int64_t{kernel->mr}}) {
    if (row0 >= M) continue;
    CAPTURE(row0);
    std::vector<float> rows_got(static_cast<std::size_t>((M - row0) * ldc), fill);
    std::vector<float> rows_want(rows_got);
    if (accumulate) std::copy(want.begin() + row0 * ldc, want.end(), rows_got.begin());
    rows_want = rows_got;
    gemm_packed(packed, row0, M - row0, N, b.data(), ldb, rows_got.data(), ldc, accumulate, layout);
    gemm(*kernel, M - row0, N, K, a.data() + row0 * lda, lda, b.data(), ldb, rows_want.data(), ldc, accumulate,
         layout);
    CHECK(rows_got == rows_want);
  }
}

TEST_CASE("gemm over blocks of every loop: many rows, columns and values of k", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  const bool transposed = GENERATE(false, true);
  CAPTURE(isa_name(isa), transposed);
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  // More rows than one A block (256), columns than one B block (1024), k than one K block (256).
  const int64_t M = 300, N = 1100, K = 600;
  const int64_t ldb = transposed ? K : N;
  const GemmLayout layout = transposed ? GemmLayout::Transposed : GemmLayout::RowMajor;
  const auto a = random_floats(M * K, 4), b = random_floats(N * K, 5);
  std::vector<float> got(M * N), want(M * N);
  gemm(*kernel, M, N, K, a.data(), K, b.data(), ldb, got.data(), N, false, layout);
  gemm_reference(M, N, K, a.data(), K, b.data(), ldb, want.data(), N, false, layout);
  CHECK(count_wrong(got, want, M, N, N, K, 0.0f) == 0);
}

TEST_CASE("gemm gives the same bits however the product is split", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  CAPTURE(isa_name(isa));
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  // 700 columns: the whole product packs A; the parts of 3 and 47 columns read it unpacked.
  const int64_t M = 45, N = 700, K = 300;
  const auto a = random_floats(M * K, 6), b = random_floats(K * N, 7);
  std::vector<float> whole(M * N), parts(M * N);
  gemm(*kernel, M, N, K, a.data(), K, b.data(), N, whole.data(), N);
  // Three row ranges (any start: unpacked A) times three column ranges, none on a block edge.
  const int64_t row_cuts[] = {0, 5, 29, M}, col_cuts[] = {0, 3, 50, N};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      gemm(*kernel, row_cuts[i + 1] - row_cuts[i], col_cuts[j + 1] - col_cuts[j], K, a.data() + row_cuts[i] * K, K,
           b.data() + col_cuts[j], N, parts.data() + row_cuts[i] * N + col_cuts[j], N);
  CHECK(whole == parts);
}

TEST_CASE("few-column products stream A's rows through every block of k: the same bits as wide ones", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  CAPTURE(isa_name(isa));
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  // K = 1000: four blocks of k; 600 more columns make the wide product pack A, so the few-column
  // one (at most one panel: A's rows read where they lie, prefetched) is checked against the
  // blocked loops. B's first columns are read packed, where they lie (whole vectors, rows
  // contiguous, or A of few rows) or copied.
  const int64_t K = 1000, wide = 600;
  const int64_t M = GENERATE(5, 37);
  const int64_t N = GENERATE_COPY(int64_t{1}, int64_t{kernel->lanes}, int64_t{kernel->lanes + 3}, int64_t{kernel->nr});
  const bool contiguous_b = GENERATE(false, true);
  CAPTURE(M, N, contiguous_b);
  const int64_t ldb = N + wide;
  const auto a = random_floats(M * K, 10), b = random_floats(K * ldb, 11);
  std::vector<float> whole(static_cast<std::size_t>(M * ldb));
  gemm(*kernel, M, ldb, K, a.data(), K, b.data(), ldb, whole.data(), ldb);
  std::vector<float> b_few(static_cast<std::size_t>(K * N));
  for (int64_t k = 0; k < K; ++k) std::copy(b.begin() + k * ldb, b.begin() + k * ldb + N, b_few.begin() + k * N);
  std::vector<float> few(static_cast<std::size_t>(M * N)), want(few.size());
  const bool accumulate = GENERATE(false, true);
  CAPTURE(accumulate);
  if (accumulate) few = random_floats(M * N, 12);
  want = few;
  if (contiguous_b)
    gemm(*kernel, M, N, K, a.data(), K, b_few.data(), N, few.data(), N, accumulate);
  else
    gemm(*kernel, M, N, K, a.data(), K, b.data(), ldb, few.data(), N, accumulate);
  gemm_reference(M, N, K, a.data(), K, b.data(), ldb, want.data(), N, accumulate);
  CHECK(count_wrong(few, want, M, N, N, K, 0.0f) == 0);
  if (accumulate) return;  // the wide product did not accumulate
  int differing = 0;
  for (int64_t r = 0; r < M; ++r)
    for (int64_t n = 0; n < N; ++n) differing += few[r * N + n] != whole[r * ldb + n];
  CHECK(differing == 0);
}

TEST_CASE("gemm gives the same bits whether B is read where it lies or packed", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  CAPTURE(isa_name(isa));
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  // 16 rows of A: B is read where it lies when its rows are close, packed when they are far apart.
  const int64_t M = 16, N = 70, K = 40, near = N, far = 20000;
  const auto a = random_floats(M * K, 8), b = random_floats(K * far, 9);
  std::vector<float> b_near(static_cast<std::size_t>(K * near));
  for (int64_t k = 0; k < K; ++k) std::copy(b.begin() + k * far, b.begin() + k * far + N, b_near.begin() + k * near);
  std::vector<float> from_near(M * N), from_far(M * N), want(M * N);
  gemm(*kernel, M, N, K, a.data(), K, b_near.data(), near, from_near.data(), N);
  gemm(*kernel, M, N, K, a.data(), K, b.data(), far, from_far.data(), N);
  gemm_reference(M, N, K, a.data(), K, b.data(), far, want.data(), N);
  CHECK(count_wrong(from_far, want, M, N, N, K, 0.0f) == 0);
  CHECK(from_near == from_far);
}

TEST_CASE("the dot-product kernel of every family matches the reference", "[sgemm]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  const int64_t M = GENERATE(1, 4, 5, 33);  // whole blocks of rows and tails
  const int64_t K = GENERATE(1, 7, 31, 32, 33, 100, 600);
  const int cols = GENERATE(1, 2, 3, 4, 5, 8, 11);
  const bool accumulate = GENERATE(false, true);
  CAPTURE(isa_name(isa), M, K, cols, accumulate);
  const GemmMicroKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  const int64_t lda = K + 2, ldc = cols + 3;
  const auto a = random_floats(M * lda, 12), bt = random_floats(cols * K, 13);
  const float fill = -7.0f;
  std::vector<float> got = random_floats(M * ldc, 14);
  for (int64_t r = 0; r < M; ++r) std::fill(got.begin() + r * ldc + cols, got.begin() + (r + 1) * ldc, fill);
  std::vector<float> want = got;
  kernel->dot(M, K, a.data(), lda, bt.data(), cols, got.data(), ldc, accumulate);
  // bt holds B's columns as rows: B^T.
  gemm_reference(M, cols, K, a.data(), lda, bt.data(), K, want.data(), ldc, accumulate, GemmLayout::Transposed);
  CHECK(count_wrong(got, want, M, cols, ldc, K, fill) == 0);
}

TEST_CASE("gemm and OpenBLAS's sgemm agree", "[sgemm]") {
  const int64_t M = 64, N = 200, K = 576;
  const auto a = random_floats(M * K, 8), b = random_floats(K * N, 9);
  std::vector<float> ours(M * N), theirs(M * N);
  gemm(M, N, K, a.data(), K, b.data(), N, ours.data(), N);
  sgemm_openblas(M, N, K, a.data(), K, b.data(), N, theirs.data(), N);
  CHECK(count_wrong(ours, theirs, M, N, N, K, 0.0f) == 0);
}

TEST_CASE("gemm_packed refuses rows that do not start on a panel", "[sgemm]") {
  const GemmMicroKernel& kernel = gemm_micro_kernel(active_isa());
  const auto a = random_floats(20 * 10, 10), b = random_floats(10 * 4, 11);
  const GemmPackedA packed(kernel, a.data(), 20, 10, 10);
  std::vector<float> c(20 * 4);
  CHECK_THROWS_WITH(gemm_packed(packed, 1, 5, 4, b.data(), 4, c.data(), 4),
                    Catch::Contains("do not start on a panel"));
  CHECK_THROWS_WITH(gemm_packed(packed, 0, 21, 4, b.data(), 4, c.data(), 4), Catch::Contains("20"));
}

TEST_CASE("instruction families by name, and the CPU's features", "[sgemm]") {
  CHECK(parse_isa("avx512") == Isa::Avx512);
  CHECK(parse_isa("avx2") == Isa::Avx2);
  CHECK(parse_isa("generic") == Isa::Generic);
  CHECK_THROWS_WITH(parse_isa("avx3"), Catch::Contains("'avx3'") && Catch::Contains("avx512"));
  CHECK(isa_supported(Isa::Generic));
  CHECK(isa_supported(active_isa()));
  // A family implies the ones below it: every AVX-512 CPU has AVX2 and FMA.
  if (isa_supported(Isa::Avx512)) CHECK(isa_supported(Isa::Avx2));
  CHECK_FALSE(cpu_feature_list(cpu_features()).empty());
}

// sgemm, sgemm_narrow and sgemm_bt against a double-precision product: column counts on both
// sides of kNarrowGemmColumns, odd sizes, leading dimensions larger than the rows, and
// accumulation into C; sgemm_narrow's columns do not depend on their neighbours.
// check_blas_int, the size guard of every caller.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/kernels/blas.h"

using spdinfer::sgemm;
using spdinfer::sgemm_narrow;
using spdinfer::sgemm_bt;

namespace {

std::vector<float> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Largest |got - want| / (1 + |want|) over the M x N block.
double worst_error(const std::vector<float>& got, const std::vector<double>& want, int M, int N, int ldc) {
  double worst = 0.0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const double w = want[static_cast<std::size_t>(m) * N + n];
      worst = std::max(worst, std::fabs(got[static_cast<std::size_t>(m) * ldc + n] - w) / (1.0 + std::fabs(w)));
    }
  return worst;
}

}  // namespace

TEST_CASE("sgemm and sgemm_narrow match a double-precision product", "[blas]") {
  const bool narrow = GENERATE(false, true);
  const int N = GENERATE(1, 2, 3, 4, 5, 7, 8, 9, 16, 33);
  const auto [M, K] = GENERATE(table<int, int>({{1, 1}, {5, 17}, {64, 300}, {130, 1031}}));
  const bool accumulate = GENERATE(false, true);
  CAPTURE(narrow, M, N, K, accumulate);
  const int lda = K + 3, ldb = N + 2, ldc = N + 5;  // padded rows: the strides must be honoured
  const auto A = random_values(static_cast<std::size_t>(M) * lda, 1);
  const auto B = random_values(static_cast<std::size_t>(K) * ldb, 2);
  auto C = random_values(static_cast<std::size_t>(M) * ldc, 3);
  const auto C0 = C;
  std::vector<double> want(static_cast<std::size_t>(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = accumulate ? C0[static_cast<std::size_t>(m) * ldc + n] : 0.0;
      for (int k = 0; k < K; ++k)
        s += double{A[static_cast<std::size_t>(m) * lda + k]} * B[static_cast<std::size_t>(k) * ldb + n];
      want[static_cast<std::size_t>(m) * N + n] = s;
    }
  (narrow ? sgemm_narrow : sgemm)(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, accumulate);
  CHECK(worst_error(C, want, M, N, ldc) < 1e-5 * std::sqrt(double(K)));
  // Padding between rows is left alone.
  for (int m = 0; m < M; ++m)
    for (int n = N; n < ldc; ++n)
      CHECK(C[static_cast<std::size_t>(m) * ldc + n] == C0[static_cast<std::size_t>(m) * ldc + n]);
}

TEST_CASE("sgemm_narrow gives each element the same bits whatever the call's other rows and columns", "[blas]") {
  const int M = 37, K = 301, N = 7;  // blocks of rows and columns with tails of both
  const auto A = random_values(M * K, 6), B = random_values(K * N, 7);
  std::vector<float> all(M * N), one(M), row(N);
  sgemm_narrow(M, N, K, A.data(), K, B.data(), N, all.data(), N);
  for (int n = 0; n < N; ++n) {
    sgemm_narrow(M, 1, K, A.data(), K, B.data() + n, N, one.data(), 1);
    for (int m = 0; m < M; ++m) CHECK(one[m] == all[m * N + n]);
  }
  for (int m = 0; m < M; ++m) {
    sgemm_narrow(1, N, K, A.data() + m * K, K, B.data(), N, row.data(), N);
    for (int n = 0; n < N; ++n) CHECK(row[n] == all[m * N + n]);
  }
}

TEST_CASE("sgemm_bt multiplies by the transpose", "[blas]") {
  const int M = 3, N = 6, K = 11;
  const auto A = random_values(M * K, 4), B = random_values(N * K, 5);
  std::vector<float> C(M * N);
  sgemm_bt(M, N, K, A.data(), K, B.data(), K, C.data(), N);
  std::vector<double> want(M * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n)
      for (int k = 0; k < K; ++k) want[m * N + n] += double{A[m * K + k]} * B[n * K + k];
  CHECK(worst_error(C, want, M, N, N) < 1e-5);
}

TEST_CASE("check_blas_int refuses sizes beyond BLAS's int, naming the op and the size", "[blas]") {
  const int64_t largest = std::numeric_limits<int>::max();
  CHECK_NOTHROW(spdinfer::check_blas_int(largest, "conv2d", "GEMM depth"));
  CHECK_THROWS_WITH(spdinfer::check_blas_int(largest + 1, "conv2d", "GEMM depth"),
                    "conv2d: GEMM depth 2147483648 exceeds the BLAS int range");
}

// packed_sgemm against the plain reference over shapes around the kernel's 6 x 16 block (rows
// and columns that fill it, leave a partial panel or a column tail), depths from 1, row ranges
// that start at later panels, and leading dimensions wider than the product; and the same bits
// whichever way the rows and columns are split between calls.
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <vector>

#include "engine/packed_gemm.h"

using namespace spdinfer;

namespace {

std::vector<float> random_floats(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("packed_sgemm matches the reference", "[packed_gemm]") {
  const int64_t M = GENERATE(1, 6, 13, 70);
  const int64_t N = GENERATE(1, 5, 16, 17, 32);
  const int64_t K = GENERATE(1, 7, 300);
  const int64_t pad = GENERATE(0, 3);  // extra leading-dimension floats in A, B and C
  CAPTURE(M, N, K, pad);
  std::mt19937 rng(static_cast<std::uint32_t>(M * 1000 + N * 10 + K + pad));
  const int64_t lda = K + pad, ldb = N + pad, ldc = N + pad;
  const std::vector<float> a = random_floats(M * lda, rng), b = random_floats(K * ldb, rng);
  const PackedMatrix packed(a.data(), M, K, lda);
  REQUIRE(packed.rows() == M);
  REQUIRE(packed.cols() == K);
  // Rows from the first panel, and from the second when there is one.
  for (int64_t row0 : {int64_t{0}, int64_t{6}}) {
    if (row0 >= M) continue;
    const int64_t rows = M - row0;
    CAPTURE(row0);
    std::vector<float> got(rows * ldc, -7.0f), want(rows * ldc, -7.0f);
    packed_sgemm(packed, row0, rows, N, b.data(), ldb, got.data(), ldc);
    packed_sgemm_reference(a.data(), lda, K, row0, rows, N, b.data(), ldb, want.data(), ldc);
    int wrong = 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t n = 0; n < ldc; ++n) {
        const float g = got[r * ldc + n], w = want[r * ldc + n];
        // Outside the product (the padding of C) nothing may be written.
        const bool ok = n < N ? std::fabs(g - w) <= 1e-5f * std::max(1.0f, std::fabs(w)) * std::sqrt(float(K))
                              : g == -7.0f;
        if (!ok && ++wrong <= 5) FAIL_CHECK("C[" << r << "][" << n << "] = " << g << ", want " << w);
      }
    CHECK(wrong == 0);
  }
}

TEST_CASE("packed_sgemm gives the same bits however the product is split", "[packed_gemm]") {
  std::mt19937 rng(11);
  const int64_t M = 40, N = 29, K = 123;
  const std::vector<float> a = random_floats(M * K, rng), b = random_floats(K * N, rng);
  const PackedMatrix packed(a.data(), M, K, K);
  std::vector<float> whole(M * N), split(M * N);
  packed_sgemm(packed, 0, M, N, b.data(), N, whole.data(), N);
  // Rows in panel-aligned pieces of 12, 6 and the rest; columns in pieces of 16 and 13.
  for (auto [row0, rows] : {std::pair<int64_t, int64_t>{0, 12}, {12, 6}, {18, M - 18}})
    for (auto [col0, cols] : {std::pair<int64_t, int64_t>{0, 16}, {16, N - 16}})
      packed_sgemm(packed, row0, rows, cols, b.data() + col0, N, split.data() + row0 * N + col0, N);
  CHECK(whole == split);
}

// Im2colB (engine/kernels/im2col_b.h) packs the same panels as the im2col matrix built element by
// element would: every kernel size, stride, dilation and padding the models use and odd ones,
// maps narrower and wider than a panel, blocks starting mid-row and mid-k; and a GEMM through it
// gives the same bits as through the explicit matrix.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "engine/kernels/cpu_features.h"
#include "engine/kernels/im2col_b.h"

using namespace spdinfer;

namespace {

std::vector<float> random_floats(int64_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

Im2colGeometry geometry(int64_t C, int64_t H, int64_t W, int64_t k, int64_t stride, int64_t dilation, int64_t pad) {
  Im2colGeometry g;
  g.channels = C, g.height = H, g.width = W;
  g.kernel_h = g.kernel_w = k;
  g.stride_h = g.stride_w = stride;
  g.dilation_h = g.dilation_w = dilation;
  g.pad_top = g.pad_left = pad;
  g.out_h = (H + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  g.out_w = (W + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  return g;
}

// The explicit (K x N) im2col matrix from the reference formula.
std::vector<float> explicit_matrix(const std::vector<float>& input, const Im2colGeometry& g) {
  const int64_t K = g.channels * g.kernel_h * g.kernel_w, N = g.out_h * g.out_w;
  std::vector<float> b(static_cast<std::size_t>(K * N));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) b[k * N + j] = im2col_reference(input.data(), g, k, j);
  return b;
}

}  // namespace

TEST_CASE("Im2colB packs what the im2col matrix holds", "[im2col_b]") {
  const int64_t k = GENERATE(1, 2, 3, 5);
  const int64_t stride = GENERATE(1, 2);
  const int64_t dilation = GENERATE(1, 2);
  const int64_t pad = GENERATE(0, 1, 2);
  const int64_t W = GENERATE(3, 11, 40);
  const int64_t C = 3, H = 7;
  const Im2colGeometry g = geometry(C, H, W, k, stride, dilation, pad);
  CAPTURE(k, stride, dilation, pad, W, g.out_h, g.out_w);
  if (g.out_h <= 0 || g.out_w <= 0) return;  // the kernel does not fit: no such convolution
  const auto input = random_floats(C * H * W, 1);
  const int64_t K = C * k * k, N = g.out_h * g.out_w;
  const auto b = explicit_matrix(input, g);
  const int nr = 8;
  // A block from mid-k and mid-row (col0 shifts the columns, as a thread's share of them does).
  for (int64_t col0 : {int64_t{0}, int64_t{5}}) {
    if (col0 >= N) continue;
    const Im2colB source(input.data(), g, col0);
    const int64_t k0 = K > 2 ? 1 : 0, kc = K - k0, n0 = N - col0 > 3 ? 2 : 0, nc = N - col0 - n0;
    const int64_t panels = (nc + nr - 1) / nr;
    std::vector<float> packed(static_cast<std::size_t>(panels * kc * nr), -7.0f);
    source.pack(k0, kc, n0, nc, nr, packed.data());
    int wrong = 0;
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t kk = 0; kk < kc; ++kk)
        for (int64_t jj = 0; jj < nr; ++jj) {
          const int64_t col = p * nr + jj;
          const float want = col < nc ? b[(k0 + kk) * N + col0 + n0 + col] : 0.0f;
          const float got = packed[(p * kc + kk) * nr + jj];
          if (got != want && ++wrong <= 5) FAIL_CHECK("k " << k0 + kk << " column " << col << ": " << got << " != " << want);
        }
    CHECK(wrong == 0);
  }
}

TEST_CASE("a GEMM through Im2colB gives the same bits as through the explicit matrix", "[im2col_b]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  CAPTURE(isa_name(isa));
  if (!isa_supported(isa)) {
    WARN("skipped: this CPU lacks " << isa_name(isa));
    return;
  }
  const GemmMicroKernel& kernel = gemm_micro_kernel(isa);
  // 600 values of k (three blocks), 45 x 30 outputs (several B blocks and a column tail).
  const Im2colGeometry g = geometry(67, 45, 30, 3, 1, 1, 1);
  const int64_t K = 67 * 9, N = g.out_h * g.out_w, M = 70;
  const auto input = random_floats(67 * 45 * 30, 2), weights = random_floats(M * K, 3);
  const auto b = explicit_matrix(input, g);
  const GemmPackedA a(kernel, weights.data(), M, K, K);
  std::vector<float> implicit(M * N), explicit_(M * N);
  gemm_packed(a, 0, M, N, Im2colB(input.data(), g), implicit.data(), N);
  gemm_packed(a, 0, M, N, b.data(), N, explicit_.data(), N);
  CHECK(implicit == explicit_);
}

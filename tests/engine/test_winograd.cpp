// Winograd F(2x2, 3x3) against the naive convolution: odd and even sizes, every padding form,
// batches, bias, activation, thread counts; the weight transform on its own; when it applies.
//
// Tolerance: |winograd - ref| <= 1e-5 + 1e-4 * |ref| with outputs of order 1 (weights scaled by
// 1/sqrt(9C)); the transforms add a few float roundings per output, far below that.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "engine/ops/conv2d.h"
#include "engine/ops/conv_path.h"
#include "engine/ops/winograd.h"
#include "test_util.h"

using namespace spdinfer;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

// Runs conv2d_winograd into a NaN-filled output (unwritten elements show) with an exactly
// sized workspace followed by sentinels (overruns show).
Tensor run_winograd(const Tensor& in, const Tensor& w, const Tensor* bias, const Conv2dParams& p, int threads) {
  constexpr float kSentinel = 12345.0f;
  const std::size_t ws = winograd_workspace_floats(in.shape(), w.shape(), p, threads);
  std::vector<float> workspace(ws + 64, kSentinel);
  Tensor out = Tensor::filled(conv2d_output_shape(in.shape(), w.shape(), p), std::nanf(""));
  conv2d_winograd(in, WinogradWeights(w), bias, p, out, workspace.data(), threads);
  CHECK(std::all_of(workspace.begin() + static_cast<std::ptrdiff_t>(ws), workspace.end(),
                    [](float v) { return v == kSentinel; }));
  return out;
}

void check_winograd(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, const Conv2dParams& p, bool with_bias) {
  const auto seed = static_cast<std::uint32_t>(N * 7919 + C * 104729 + H * 31 + W + O * 613);
  const Tensor in = random_tensor({N, C, H, W}, seed);
  const float scale = 1.0f / std::sqrt(9.0f * static_cast<float>(C));
  const Tensor w = random_tensor({O, C, 3, 3}, seed + 1, -scale, scale);
  const Tensor b = random_tensor({O}, seed + 2);
  const Tensor* bias = with_bias ? &b : nullptr;
  Tensor ref(conv2d_output_shape(in.shape(), w.shape(), p));
  conv2d_reference(in, w, bias, p, ref);
  for (int threads = 1; threads <= 3; ++threads) {
    INFO("threads " << threads);
    const Tensor got = run_winograd(in, w, bias, p, threads);
    CHECK(compare_tensors(got, ref, 1e-5f, 1e-4f) == "");
  }
}

}  // namespace

TEST_CASE("winograd matches the reference convolution", "[winograd][conv2d]") {
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {2, 3}, {5, 7}, {8, 8}, {13, 6}, {40, 33}}));
  const int pad = GENERATE(0, 1, 2, -1);  // -1: per side (top 2, left 0, bottom 1, right 3)
  const int64_t N = GENERATE(1, 3);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(H, W, pad, N, with_bias);
  Conv2dParams p;
  if (pad >= 0) p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  if (pad < 0) p.pad_top = 2, p.pad_left = 0, p.pad_bottom = 1, p.pad_right = 3;
  p.activation = Activation::SiLU;
  if (H + p.pad_top + p.pad_bottom < 3 || W + p.pad_left + p.pad_right < 3) return;  // no output
  check_winograd(N, 64, H, W, 72, p, with_bias);
}

TEST_CASE("winograd with wide layers and many tile rows per block", "[winograd][conv2d]") {
  const auto [C, O, H, W] = GENERATE(table<int64_t, int64_t, int64_t, int64_t>(
      {{64, 80, 20, 20}, {65, 70, 11, 9}, {64, 64, 300, 7}, {96, 64, 3, 290}}));
  CAPTURE(C, O, H, W);
  Conv2dParams p;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.activation = Activation::ReLU;
  check_winograd(2, C, H, W, O, p, true);
}

TEST_CASE("winograd weight transform is G g G^T", "[winograd]") {
  // A kernel with a single 1 at (ky, kx) transforms to the outer product of G's columns.
  const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int ky = 0; ky < 3; ++ky) {
    for (int kx = 0; kx < 3; ++kx) {
      Tensor w = Tensor::filled({1, 1, 3, 3}, 0.0f);
      w[ky * 3 + kx] = 1.0f;
      const Tensor U = winograd_weights(w);
      REQUIRE(U.shape() == Shape{16, 1, 1});
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) CHECK(U[i * 4 + j] == static_cast<float>(G[i][ky] * G[j][kx]));
    }
  }
}

TEST_CASE("winograd is chosen for 3x3 stride-1 single-group convolutions with enough channels", "[winograd]") {
  const auto winograd = [](const Shape& input, const Shape& weight, const Conv2dParams& p) {
    return choose_conv_path(input, weight, p, ConvSwitches{}).method == ConvMethod::Winograd;
  };
  Conv2dParams p;
  CHECK(winograd({1, 64, 20, 20}, {64, 64, 3, 3}, p));
  CHECK_FALSE(winograd({1, 32, 20, 20}, {64, 32, 1, 1}, p));
  CHECK_FALSE(winograd({1, 16, 20, 20}, {64, 16, 3, 3}, p));  // too few input channels
  CHECK_FALSE(winograd({1, 64, 20, 20}, {8, 64, 3, 3}, p));   // too few output channels
  Conv2dParams padded;
  padded.pad_top = padded.pad_left = padded.pad_bottom = padded.pad_right = 1;
  CHECK(winograd({1, 64, 8, 8}, {64, 64, 3, 3}, padded));        // 16 tiles
  CHECK_FALSE(winograd({1, 512, 4, 4}, {512, 512, 3, 3}, padded));  // 4 tiles: weight-bound
  CHECK_FALSE(winograd({4, 512, 4, 4}, {512, 512, 3, 3}, padded));  // 16 tiles, 16 MiB transformed
  CHECK(winograd({8, 512, 4, 4}, {512, 512, 3, 3}, padded));        // 32 tiles over the batch
  CHECK(winograd({4, 256, 4, 4}, {256, 256, 3, 3}, padded));        // 16 tiles, 4 MiB transformed
  Conv2dParams strided;
  strided.stride_h = strided.stride_w = 2;
  CHECK_FALSE(winograd({1, 64, 20, 20}, {64, 64, 3, 3}, strided));
  Conv2dParams dilated;
  dilated.dilation_h = 2;
  CHECK_FALSE(winograd({1, 64, 20, 20}, {64, 64, 3, 3}, dilated));
  Conv2dParams grouped;
  grouped.groups = 2;
  CHECK_FALSE(winograd({1, 128, 20, 20}, {64, 64, 3, 3}, grouped));
  // Switched off, the same convolution takes the GEMM path.
  ConvSwitches off;
  off.winograd = false;
  CHECK(choose_conv_path({1, 64, 20, 20}, {64, 64, 3, 3}, p, off).method == ConvMethod::Im2col);
}

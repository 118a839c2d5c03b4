// conv2d: the fast path (im2col + sgemm, pointwise, depthwise) against the naive reference over
// parameter sweeps, thread-count independence, workspace bounds, and the validation errors.
//
// Tolerance: |fast - ref| <= 1e-4 * max(1, |ref|) (the reference accumulates in double, the fast
// path in float); threads 1 vs 2 and more: |a - b| <= 1e-5 * max(1, |a|).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/ops/conv2d.h"

using namespace spdinfer;
using Catch::Matchers::Contains;

namespace {

Tensor random_tensor(Shape shape, std::mt19937& rng, float scale = 1.0f) {
  Tensor t(std::move(shape));
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = dist(rng);
  return t;
}

// One CHECK per tensor (not per element) so a failure names the worst element and stays fast.
void check_close(const Tensor& got, const Tensor& want, float rel) {
  REQUIRE(got.shape() == want.shape());
  int64_t worst = -1;
  double worst_excess = 0.0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double err = std::fabs(double{got[i]} - want[i]),
                 allowed = rel * std::max(1.0, std::fabs(double{want[i]}));
    if (!(err <= allowed) && (worst < 0 || err - allowed > worst_excess))
      worst = i, worst_excess = err - allowed;
  }
  INFO("worst element " << worst << ": got " << (worst >= 0 ? got[worst] : 0.0f) << " want "
                        << (worst >= 0 ? want[worst] : 0.0f));
  CHECK(worst == -1);
}

// Runs the fast path with `threads` into a NaN-filled output (so unwritten elements show) and an
// exactly sized workspace followed by sentinels (so overruns show).
Tensor run_fast(const Tensor& in, const Tensor& w, const Tensor* bias, const Conv2dParams& p, int threads) {
  constexpr int kSentinels = 64;
  constexpr float kSentinel = 12345.0f;
  const std::size_t ws = conv2d_workspace_floats(in.shape(), w.shape(), p, threads);
  std::vector<float> workspace(ws + kSentinels, kSentinel);
  Tensor out = Tensor::filled(conv2d_output_shape(in.shape(), w.shape(), p), std::nanf(""));
  conv2d(in, w, bias, p, out, ws ? workspace.data() : nullptr, threads);
  CHECK(std::all_of(workspace.begin() + ws, workspace.end(), [](float v) { return v == kSentinel; }));
  return out;
}

// Builds random input/weight/bias for these shapes, then checks fast (threads 1 up to
// `max_threads`) against the reference and against each other, within `thread_tolerance` (0:
// the same bits at every thread count).
void check_conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int kh, int kw, const Conv2dParams& p,
                bool with_bias, int max_threads = 3, float thread_tolerance = 1e-5f) {
  std::mt19937 rng(static_cast<uint32_t>(N * 1000003 + C * 10007 + H * 101 + W * 7 + O + kh * 13 + kw));
  const int64_t cg = C / p.groups;
  const Tensor in = random_tensor({N, C, H, W}, rng);
  // Weights scaled by 1/sqrt(K) keep outputs O(1) whatever the kernel size.
  const Tensor w = random_tensor({O, cg, kh, kw}, rng, 1.0f / std::sqrt(static_cast<float>(cg * kh * kw)));
  const Tensor b = random_tensor({O}, rng);
  const Tensor* bias = with_bias ? &b : nullptr;

  Tensor ref(conv2d_output_shape(in.shape(), w.shape(), p));
  conv2d_reference(in, w, bias, p, ref);
  const Tensor one = run_fast(in, w, bias, p, 1);
  check_close(one, ref, 1e-4f);
  for (int threads = 2; threads <= max_threads; ++threads) {
    INFO("threads " << threads);
    const Tensor many = run_fast(in, w, bias, p, threads);
    check_close(many, ref, 1e-4f);
    check_close(many, one, thread_tolerance);
  }
}

enum class Pad { None, Symmetric, PerSide };

}  // namespace

TEST_CASE("conv2d fast matches reference over kernel/stride/padding/dilation/groups", "[conv2d]") {
  // 5 x 70: rows long enough for im2col's vector loops (stride 2: 35 outputs) and their tails.
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {7, 5}, {12, 13}, {5, 70}}));
  const int64_t N = GENERATE(1, 3);
  const int k = GENERATE(1, 3, 5, 6);
  const int stride = GENERATE(1, 2);
  const Pad pad = GENERATE(Pad::None, Pad::Symmetric, Pad::PerSide);
  const int dilation = GENERATE(1, 2);
  const int groups = GENERATE(1, 2);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(N, H, W, k, stride, static_cast<int>(pad), dilation, groups, with_bias);

  const int64_t C = 6, O = 10;  // not multiples of 8, divisible by both group counts
  Conv2dParams p;
  p.kernel_h = p.kernel_w = k;
  p.stride_h = p.stride_w = stride;
  p.dilation_h = p.dilation_w = dilation;
  p.groups = groups;
  if (pad == Pad::Symmetric) p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
  if (pad == Pad::PerSide) p.pad_top = 2, p.pad_left = 0, p.pad_bottom = 1, p.pad_right = 3;

  const int64_t dilated = int64_t{dilation} * (k - 1) + 1;
  if (H + p.pad_top + p.pad_bottom < dilated || W + p.pad_left + p.pad_right < dilated) {
    CHECK_THROWS_WITH(conv2d_output_shape({N, C, H, W}, {O, C / groups, k, k}, p), Contains("would be <= 0"));
    return;
  }
  check_conv(N, C, H, W, O, k, k, p, with_bias);
}

TEST_CASE("conv2d fused activation on every path", "[conv2d]") {
  const Activation act = GENERATE(Activation::None, Activation::ReLU, Activation::SiLU, Activation::Sigmoid);
  // 0: im2col 3x3 pad 1, 1: pointwise, 2: depthwise 3x3, 3: strided 1x1 (im2col without padding)
  const int path = GENERATE(0, 1, 2, 3);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(activation_name(act), path, with_bias);
  Conv2dParams p;
  p.activation = act;
  int k = path == 0 || path == 2 ? 3 : 1;
  if (k == 3) p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  if (path == 3) p.stride_h = p.stride_w = 2;
  if (path == 2) p.groups = 12;
  check_conv(2, 12, 9, 11, path == 2 ? 12 : 20, k, k, p, with_bias);
}

TEST_CASE("conv2d depthwise direct path", "[conv2d]") {
  const int64_t C = GENERATE(3, 8, 13);
  const int64_t multiplier = GENERATE(1, 2);
  const int k = GENERATE(3, 5);
  const int stride = GENERATE(1, 2);
  const int dilation = GENERATE(1, 2);
  const int64_t N = GENERATE(1, 3);
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {9, 14}}));
  CAPTURE(C, multiplier, k, stride, dilation, N, H, W);
  Conv2dParams p;
  p.groups = static_cast<int>(C);
  p.stride_h = p.stride_w = stride;
  p.dilation_h = p.dilation_w = dilation;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = dilation * (k / 2);
  p.activation = Activation::ReLU;
  CHECK(conv2d_workspace_floats({N, C, H, W}, {C * multiplier, 1, k, k}, p, 2) == 0);
  check_conv(N, C, H, W, C * multiplier, k, k, p, true);
}

TEST_CASE("conv2d pointwise path reads the input as the GEMM operand", "[conv2d]") {
  const auto [C, O, groups] =
      GENERATE(table<int64_t, int64_t, int>({{3, 5, 1}, {13, 21, 1}, {16, 24, 2}, {12, 9, 3}}));
  const auto [H, W] = GENERATE(table<int64_t, int64_t>({{1, 1}, {7, 9}, {40, 40}}));
  const int64_t N = GENERATE(1, 3);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(C, O, groups, H, W, N, with_bias);
  Conv2dParams p;
  p.groups = groups;
  // Only batched small planes gather the inputs (see the next test); one image reads in place.
  if (N == 1) CHECK(conv2d_workspace_floats({N, C, H, W}, {O, C / groups, 1, 1}, p, 2) == 0);
  check_conv(N, C, H, W, O, 1, 1, p, with_bias, 3);
}

TEST_CASE("conv2d batches the small planes of several images into one GEMM", "[conv2d]") {
  // 4x4 and 8x8 outputs of 37 images: GEMMs of 16 and 4 images and a shorter last one;
  // 3x3 (im2col into a shared block) and 1x1 (input planes gathered), with groups and, with
  // 2-4 threads, output channels split between threads.
  const auto [H, k, pad] = GENERATE(table<int64_t, int, int>({{4, 3, 1}, {8, 3, 1}, {4, 1, 0}, {9, 3, 0}}));
  const int groups = GENERATE(1, 2);
  const int64_t N = GENERATE(2, 37);
  CAPTURE(H, k, pad, groups, N);
  Conv2dParams p;
  p.groups = groups;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.activation = Activation::SiLU;
  const int64_t out_plane = (H + 2 * pad - k + 1) * (H + 2 * pad - k + 1);
  const Shape input{N, 24, H, H}, weight{40 * groups, 24 / groups, k, k};
  // Batching shows in the workspace: the gathered columns of several images plus the product.
  CHECK(conv2d_workspace_floats(input, weight, p, 1) >= std::size_t(24 / groups * k * k * 2 * out_plane));
  check_conv(N, 24, H, H, 40 * groups, k, k, p, true, 4);
}

TEST_CASE("conv2d splits large GEMMs into column tiles across threads", "[conv2d]") {
  // K = C * 9 of 576 and 1440 makes tiles narrower than the 30x30 output, so several tiles per
  // image; rectangular kernels and per-side padding exercise im2col's row runs at tile edges.
  const auto [C, kh, kw] = GENERATE(table<int64_t, int, int>({{64, 3, 3}, {160, 3, 3}, {40, 1, 5}}));
  const int64_t N = GENERATE(1, 2);
  const int stride = GENERATE(1, 2);
  CAPTURE(C, kh, kw, N, stride);
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_top = kh / 2, p.pad_bottom = kh / 2, p.pad_left = kw / 2, p.pad_right = kw / 2 + 1;
  p.activation = Activation::SiLU;
  check_conv(N, C, 30, 31, 8, kh, kw, p, true, 3);
}

TEST_CASE("conv2d splits small outputs with many channels by output channel", "[conv2d]") {
  // Few output columns and O / groups >= 32: the threads split the GEMM rows, each building
  // its own im2col tile (and 1x1 reading the input directly).
  const auto [H, k, pad] = GENERATE(table<int64_t, int, int>({{2, 3, 1}, {7, 3, 1}, {5, 1, 0}, {4, 5, 2}}));
  const int64_t N = GENERATE(1, 3);
  const int groups = GENERATE(1, 2);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(H, k, pad, N, groups, with_bias);
  Conv2dParams p;
  p.groups = groups;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = pad;
  p.activation = Activation::ReLU;
  check_conv(N, 48, H, H, 70 * groups, k, k, p, with_bias, 4);
}

TEST_CASE("conv2d products of few columns, weights read where they lie", "[conv2d]") {
  // 4x4, 5x5 and 3x5 outputs at batch 1 (16, 25 and 15 columns) and two 4x4 images batched
  // (32 columns): the GEMM reads the weight rows unpacked. Output channels 70 and 13 are not
  // multiples of the kernels' row panels, so the last panel is partial, and with 2-4 threads the
  // row tiles split inside panels; the bits must not change.
  const auto [N, H, W, k] = GENERATE(table<int64_t, int64_t, int64_t, int>(
      {{1, 4, 4, 3}, {1, 4, 4, 1}, {1, 5, 5, 3}, {1, 3, 5, 1}, {2, 4, 4, 3}, {2, 4, 4, 1}}));
  const int64_t O = GENERATE(70, 13);
  const bool with_bias = GENERATE(false, true);
  CAPTURE(N, H, W, k, O, with_bias);
  Conv2dParams p;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = k / 2;
  p.activation = Activation::ReLU;
  check_conv(N, 40, H, W, O, k, k, p, with_bias, 4, 0.0f);
}

TEST_CASE("conv2d workspace is per thread and zero when unused", "[conv2d]") {
  Conv2dParams p;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  const std::size_t one = conv2d_workspace_floats({1, 16, 20, 20}, {32, 16, 3, 3}, p, 1);
  const std::size_t two = conv2d_workspace_floats({1, 16, 20, 20}, {32, 16, 3, 3}, p, 2);
  CHECK(one >= 16 * 9);
  CHECK(two >= one);  // two slices, each at least half the columns
  Conv2dParams pointwise;
  CHECK(conv2d_workspace_floats({1, 16, 20, 20}, {32, 16, 1, 1}, pointwise, 2) == 0);

  std::mt19937 rng(7);
  const Tensor in = random_tensor({1, 16, 20, 20}, rng), w = random_tensor({32, 16, 3, 3}, rng);
  Tensor out(conv2d_output_shape(in.shape(), w.shape(), p));
  CHECK_THROWS_WITH(conv2d(in, w, nullptr, p, out, nullptr, 2), Contains("needs a workspace of"));
}

TEST_CASE("conv2d validation errors", "[conv2d]") {
  Conv2dParams p;
  SECTION("channels not divisible by groups") {
    p.groups = 4;
    CHECK_THROWS_AS(conv2d_output_shape({1, 6, 8, 8}, {8, 1, 3, 3}, p), Error);
    CHECK_THROWS_WITH(conv2d_output_shape({1, 6, 8, 8}, {8, 1, 3, 3}, p),
                      Contains("input channels 6") && Contains("not divisible by groups 4"));
    CHECK_THROWS_WITH(conv2d_output_shape({1, 8, 8, 8}, {6, 2, 3, 3}, p),
                      Contains("output channels 6") && Contains("not divisible by groups 4"));
  }
  SECTION("weight in-channels do not match input channels / groups") {
    p.groups = 2;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 8, 8, 8}, {4, 8, 3, 3}, p),
                      Contains("(4, 8, 3, 3)") && Contains("expected input channels 8 / groups 2 = 4"));
  }
  SECTION("output would be empty") {
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 2, 8}, {4, 3, 3, 3}, p),
                      Contains("output height would be <= 0") && Contains("input height 2"));
    p.dilation_w = 4;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("output width would be <= 0") && Contains("dilated kernel width 9"));
  }
  SECTION("non-positive stride, dilation, kernel, groups; negative padding") {
    p.stride_w = 0;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("stride must be positive"));
    p.stride_w = 1, p.dilation_h = -1;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("dilation must be positive"));
    p.dilation_h = 1, p.pad_right = -1;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("padding must not be negative"));
    p.pad_right = 0, p.groups = 0;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("groups must be positive"));
    p.groups = 1;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 0, 3}, p),
                      Contains("kernel size must be positive"));
    p.kernel_h = -3;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("kernel size must be positive"));
  }
  SECTION("kernel size in params disagrees with the weight") {
    p.kernel_h = 3, p.kernel_w = 5;
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p),
                      Contains("params give kernel 3x5") && Contains("has 3x3"));
    p.kernel_w = 3;
    CHECK(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3, 3}, p) == Shape{1, 4, 6, 6});
  }
  SECTION("ranks") {
    CHECK_THROWS_WITH(conv2d_output_shape({3, 8, 8}, {4, 3, 3, 3}, p), Contains("input must be rank 4"));
    CHECK_THROWS_WITH(conv2d_output_shape({1, 3, 8, 8}, {4, 3, 3}, p), Contains("weight must be rank 4"));
  }
  SECTION("bias and output tensor shapes") {
    std::mt19937 rng(1);
    const Tensor in = random_tensor({1, 3, 8, 8}, rng), w = random_tensor({4, 3, 3, 3}, rng);
    const Tensor bad_bias = random_tensor({3}, rng);
    Tensor out(Shape{1, 4, 6, 6}), bad_out(Shape{1, 4, 8, 8});
    CHECK_THROWS_WITH(conv2d_reference(in, w, &bad_bias, p, out), Contains("bias must have shape (4)"));
    CHECK_THROWS_WITH(conv2d(in, w, nullptr, p, bad_out, nullptr, 1),
                      Contains("output tensor must have shape (1, 4, 6, 6)"));
  }
}

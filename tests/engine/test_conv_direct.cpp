// The direct convolution (engine/ops/conv_direct.h): every family's kernel against conv2d_reference
// over kernel sizes, paddings, dilations, strides, channel counts around the kernels' register blocks and
// maps narrower than a block; the same bits as the im2col + GEMM path of the family in use (what
// keeps the golden tests' figures whichever path runs), whatever the thread count; the packed
// weights' layout; and the limits it refuses. A family the CPU lacks is skipped with a line naming it.
#include <catch2/catch.hpp>

#include <vector>

#include "engine/error.h"
#include "engine/kernels/cpu_features.h"
#include "engine/ops/conv_direct.h"
#include "engine/ops/conv_path.h"
#include "test_util.h"

using namespace spdinfer;
using spdinfer::testing::compare_tensors;
using spdinfer::testing::random_tensor;

namespace {

// The family's kernel, or null (after a line saying why) when this CPU lacks it.
const DirectConvKernel* kernel_if_supported(Isa isa) {
  if (isa_supported(isa)) return &direct_conv_kernel(isa);
  WARN("skipped: this CPU lacks " << isa_name(isa) << " (it has: " << cpu_feature_list(cpu_features()) << ")");
  return nullptr;
}

Tensor run_direct(const DirectConvKernel& kernel, const Tensor& input, const Tensor& weight, const Tensor* bias,
                  const Conv2dParams& p, int threads) {
  const DirectConvWeights packed(kernel, weight);
  std::vector<float> workspace(conv2d_direct_workspace_floats(input.shape(), weight.shape(), p, kernel, threads));
  Tensor out(conv2d_output_shape(input.shape(), weight.shape(), p));
  conv2d_direct(input, packed, bias, p, out, workspace.data(), threads);
  return out;
}

Tensor run_im2col(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p) {
  ConvSwitches im2col_only;
  im2col_only.winograd = im2col_only.direct = im2col_only.narrow = false;
  const ConvPath path = choose_conv_path(input.shape(), weight.shape(), p, im2col_only);
  REQUIRE(path.method == ConvMethod::Im2col);
  std::vector<float> workspace(conv2d_workspace_floats(input.shape(), weight.shape(), p, 1, path) + 1);
  Tensor out(conv2d_output_shape(input.shape(), weight.shape(), p));
  conv2d(input, weight, bias, p, out, workspace.data(), 1, path);
  return out;
}

}  // namespace

TEST_CASE("the direct convolution of every family matches the reference", "[conv_direct]") {
  const Isa isa = GENERATE(Isa::Generic, Isa::Avx2, Isa::Avx512);
  struct Case {
    Shape input;
    int64_t out_channels, kh, kw;
    int pad_top, pad_left, pad_bottom, pad_right, dilation, stride_h = 1, stride_w = 1;
  } cases[] = {
      {{1, 16, 12, 40}, 32, 3, 3, 1, 1, 1, 1, 1},   // YOLO's 3x3 "same" convolutions
      {{2, 3, 9, 13}, 37, 3, 3, 1, 1, 1, 1, 1},     // channels past a register, a row of one partial block
      {{1, 19, 7, 5}, 70, 3, 3, 1, 1, 1, 1, 1},     // several groups of registers, the last partial
      {{1, 32, 6, 30}, 64, 3, 3, 0, 0, 0, 0, 1},    // no padding: K = 288, two blocks of k
      {{1, 64, 5, 17}, 16, 3, 3, 1, 1, 1, 1, 1},    // K = 576, three blocks of k; one register
      {{1, 5, 8, 11}, 9, 2, 2, 0, 0, 1, 1, 1},      // an even kernel, padded on one side
      {{1, 4, 10, 9}, 12, 5, 5, 2, 1, 2, 3, 1},     // asymmetric padding
      {{1, 6, 11, 12}, 20, 3, 3, 2, 2, 2, 2, 2},    // dilation 2
      {{1, 7, 6, 20}, 24, 1, 3, 0, 1, 0, 1, 1},     // a 1x3 kernel
      {{1, 8, 1, 1}, 33, 3, 3, 1, 1, 1, 1, 1},      // a single position
      {{1, 16, 13, 41}, 32, 3, 3, 1, 1, 1, 1, 1, 2, 2},  // stride 2 (the standard YOLOv5's), odd sizes
      {{2, 3, 14, 30}, 16, 6, 6, 2, 2, 2, 2, 1, 2, 2},   // its 6x6 stride-2 stem
      {{1, 5, 9, 25}, 20, 3, 3, 0, 1, 0, 1, 1, 2, 1},    // stride 2 down the rows only
      {{1, 5, 9, 25}, 20, 3, 3, 1, 0, 1, 0, 2, 1, 2},    // across them only, dilated
  };
  const int threads = GENERATE(1, 3);
  const DirectConvKernel* kernel = kernel_if_supported(isa);
  if (!kernel) return;
  for (const Case& c : cases) {
    CAPTURE(isa_name(isa), threads, shape_to_string(c.input), c.out_channels, c.kh, c.kw, c.stride_h, c.stride_w);
    Conv2dParams p;
    p.pad_top = c.pad_top, p.pad_left = c.pad_left, p.pad_bottom = c.pad_bottom, p.pad_right = c.pad_right;
    p.dilation_h = p.dilation_w = c.dilation;
    p.stride_h = c.stride_h, p.stride_w = c.stride_w;
    p.activation = Activation::SiLU;
    const Tensor input = random_tensor(c.input, 1);
    const Tensor weight = random_tensor({c.out_channels, c.input[1], c.kh, c.kw}, 2, -0.3f, 0.3f);
    const Tensor bias = random_tensor({c.out_channels}, 3);
    const Tensor got = run_direct(*kernel, input, weight, &bias, p, threads);
    Tensor want(got.shape());
    conv2d_reference(input, weight, &bias, p, want);
    CHECK(compare_tensors(got, want, 1e-4f, 1e-4f) == "");
    // Without a bias or an activation: the sums alone.
    p.activation = Activation::None;
    const Tensor plain = run_direct(*kernel, input, weight, nullptr, p, threads);
    Tensor plain_want(plain.shape());
    conv2d_reference(input, weight, nullptr, p, plain_want);
    CHECK(compare_tensors(plain, plain_want, 1e-4f, 1e-4f) == "");
  }
}

TEST_CASE("the direct path gives the im2col path's bits, on any number of threads", "[conv_direct]") {
  // The family in use (SPDINFER_ISA; CTest runs this under each one): the im2col path's GEMM is its.
  const DirectConvKernel& kernel = direct_conv_kernel(active_isa());
  const Shape input_shape = GENERATE(Shape{1, 16, 10, 48}, Shape{2, 32, 5, 37}, Shape{1, 48, 4, 33});
  const int64_t out_channels = GENERATE(32, 45, 64);
  const int stride = GENERATE(1, 2);
  CAPTURE(isa_name(kernel.isa), shape_to_string(input_shape), out_channels, stride);
  Conv2dParams p;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  p.stride_h = p.stride_w = stride;
  p.activation = Activation::ReLU;
  const Tensor input = random_tensor(input_shape, 4);
  const Tensor weight = random_tensor({out_channels, input_shape[1], 3, 3}, 5, -0.2f, 0.2f);
  const Tensor bias = random_tensor({out_channels}, 6);
  const Tensor im2col = run_im2col(input, weight, &bias, p);
  for (int threads : {1, 2, 5}) {
    CAPTURE(threads);
    const Tensor direct = run_direct(kernel, input, weight, &bias, p, threads);
    CHECK(compare_tensors(direct, im2col, 0.0f, 0.0f) == "");
  }
}

TEST_CASE("direct-convolution weights: groups of the kernel's registers, k-major, padded with zeros", "[conv_direct]") {
  const DirectConvKernel& kernel = direct_conv_kernel(Isa::Generic);  // 4 lanes, 2 registers
  const Tensor weight = random_tensor({11, 2, 3, 1}, 7);                // K = 6
  const DirectConvWeights packed(kernel, weight);
  const int64_t group_channels = int64_t{kernel.vectors} * kernel.lanes;
  REQUIRE(packed.groups() == (11 + group_channels - 1) / group_channels);
  for (int64_t g = 0; g < packed.groups(); ++g) {
    const int64_t width = int64_t{packed.vectors(g)} * kernel.lanes;
    CHECK(width >= std::min<int64_t>(group_channels, 11 - g * group_channels));
    for (int64_t k = 0; k < 6; ++k)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t o = g * group_channels + j;
        CAPTURE(g, k, j);
        CHECK(packed.group(g)[k * width + j] == (o < 11 ? weight[o * 6 + k] : 0.0f));
      }
  }
}

TEST_CASE("the direct path refuses what it cannot run", "[conv_direct]") {
  Conv2dParams strided;
  strided.stride_h = strided.stride_w = 3;
  CHECK_FALSE(direct_conv_supports({1, 16, 40, 40}, {32, 16, 3, 3}, strided));
  Conv2dParams grouped;
  grouped.groups = 2;
  CHECK_FALSE(direct_conv_supports({1, 16, 40, 40}, {32, 8, 3, 3}, grouped));
  CHECK_FALSE(direct_conv_supports({1, 16, 40, 40}, {32, 16, 1, 1}, Conv2dParams{}));
  CHECK(direct_conv_supports({1, 16, 40, 40}, {32, 16, 3, 3}, Conv2dParams{}));

  const Tensor input = random_tensor({1, 4, 8, 8}, 8);
  const Tensor weight = random_tensor({8, 4, 3, 3}, 9);
  const DirectConvWeights packed(direct_conv_kernel(Isa::Generic), weight);
  Tensor out({1, 8, 2, 2});
  std::vector<float> workspace(1 << 16);
  CHECK_THROWS_WITH(conv2d_direct(input, packed, nullptr, strided, out, workspace.data(), 1),
                    Catch::Contains("stride 1 or 2"));
  // An empty batch: nothing to do, and no division by its size.
  const Tensor empty = random_tensor({0, 4, 8, 40}, 10);
  CHECK(run_direct(packed.kernel(), empty, weight, nullptr, Conv2dParams{}, 2).shape() == Shape{0, 8, 6, 38});
  Tensor wrong({1, 8, 5, 5});
  CHECK_THROWS_WITH(conv2d_direct(input, packed, nullptr, Conv2dParams{}, wrong, workspace.data(), 1),
                    Catch::Contains("output tensor must have shape (1, 8, 6, 6)"));
}

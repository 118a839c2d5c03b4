// 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016):
// each 2x2 block of outputs costs 16 multiplies per (input, output) channel pair instead of 36.
//
// Is: a fast path for conv2d where winograd_supports() the shapes (3x3 kernel, stride 1,
// dilation 1, one group) and engine/ops/conv_path.h finds it pays off, with the weights
// transformed once, ahead of time. Its results equal conv2d_reference up to float rounding (the transforms add a
// few ulps; tests/engine/test_winograd.cpp bounds it).
// Is not: larger tiles such as F(4x4, 3x3), whose transforms lose more precision.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/kernels/sgemm.h"
#include "engine/ops/conv2d.h"
#include "engine/tensor.h"

namespace spdinfer {

// Whether conv2d_winograd can compute this convolution (whether it should is choose_conv_path's
// call).
bool winograd_supports(const Shape& input, const Shape& weight, const Conv2dParams& params);

// weight (O, C, 3, 3) -> (16, O, C): G g G^T per (o, c), element (i, j) of the 4x4 result in
// row i * 4 + j. Computed in double.
Tensor winograd_weights(const Tensor& weight);

// The transformed weights as conv2d_winograd multiplies them: each of the 16 (O x C) matrices
// packed once for the active family's GEMM kernel, so that no run packs them again.
class WinogradWeights {
 public:
  WinogradWeights() = default;
  explicit WinogradWeights(const Tensor& weight);  // weight (O, C, 3, 3)
  bool empty() const { return matrices_.empty(); }
  const Shape& weight_shape() const { return weight_shape_; }
  const GemmPackedA& matrix(int element) const { return matrices_[static_cast<std::size_t>(element)]; }

 private:
  Shape weight_shape_;
  std::vector<GemmPackedA> matrices_;
};

// Floats of workspace conv2d_winograd needs for these shapes and this `threads` value.
std::size_t winograd_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                      int threads);

// out = conv2d(input, weight) [+ bias], activation applied, where `weights` is
// WinogradWeights(weight). Requires winograd_supports(input, weight's shape, params).
void conv2d_winograd(const Tensor& input, const WinogradWeights& weights, const Tensor* bias,
                     const Conv2dParams& params, Tensor& out, float* workspace, int threads);

}  // namespace spdinfer

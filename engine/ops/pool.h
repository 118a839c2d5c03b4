// 2-D pooling over (N, C, H, W) images with PyTorch's semantics:
//   max_pool2d           nn.MaxPool2d(k, s, p): padding acts as -inf, floor mode,
//                        NaN propagates (a window holding a NaN yields NaN).
//                        ResNet's stem (k3 s2 p1), YOLOv5's SPPF (k5 s1 p2), SPP (k5/9/13 s1 p=k/2).
//   avg_pool2d           nn.AvgPool2d(k, s, p, count_include_pad), floor mode.
//   adaptive_avg_pool2d  nn.AdaptiveAvgPool2d(1) only: the global average of a classifier head.
// Not supported: ceil mode, dilation, non-square kernels, other adaptive output sizes.
#pragma once

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct Pool2dParams {
  int kernel = 2;                 // square window, kernel x kernel
  int stride = 2;                 // PyTorch's default is stride = kernel; here it is always written out
  int padding = 0;                // per side, at most kernel / 2 (PyTorch's rule)
  bool count_include_pad = true;  // avg_pool2d only: padded zeros count in the divisor
};

// (N, C, H, W) -> (N, C, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1). Throws spdinfer::Error on a
// rank other than 4, an empty image, kernel or stride < 1, padding outside [0, kernel / 2], or an
// input smaller than the (padded) window.
Shape max_pool2d_output_shape(const Shape& input, const Pool2dParams& params);
void max_pool2d_reference(const Tensor& input, const Pool2dParams& params, Tensor& output);
void max_pool2d(const Tensor& input, const Pool2dParams& params, Tensor& output, int threads);

// Same shape rule as max_pool2d.
Shape avg_pool2d_output_shape(const Shape& input, const Pool2dParams& params);
void avg_pool2d_reference(const Tensor& input, const Pool2dParams& params, Tensor& output);
void avg_pool2d(const Tensor& input, const Pool2dParams& params, Tensor& output, int threads);

// (N, C, H, W) -> (N, C, 1, 1), the mean of each H x W plane.
Shape adaptive_avg_pool2d_output_shape(const Shape& input);
void adaptive_avg_pool2d_reference(const Tensor& input, Tensor& output);
void adaptive_avg_pool2d(const Tensor& input, Tensor& output, int threads);

// The graph ops "max_pool2d", "avg_pool2d" (square windows: kernel_size,
// stride defaulting to the kernel as PyTorch's, padding) and
// "adaptive_avg_pool2d" (output_size 1 only) (op_registry.h).
OpDef max_pool2d_op();
OpDef avg_pool2d_op();
OpDef adaptive_avg_pool2d_op();

}  // namespace spdinfer

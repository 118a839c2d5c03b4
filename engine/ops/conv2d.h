// 2-D convolution (PyTorch nn.Conv2d semantics: cross-correlation, zero padding,
// dilation, groups) with an optional bias and a fused activation.
//
// Is: a naive reference and a fast path (im2col + single-threaded sgemm split
// over the engine's threads; a direct path for 1x1 and depthwise convolutions).
// Is not: a transposed convolution, nor a Winograd/FFT kernel, nor an owner of
// memory: the caller allocates `out` and the workspace (the executor plans both).
#pragma once

#include <cstddef>

#include "engine/ops/activation.h"
#include "engine/kernels/sgemm.h"
#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct Conv2dParams {
  // 0 means "take it from the weight"; a positive value must agree with the weight.
  int kernel_h = 0, kernel_w = 0;
  int stride_h = 1, stride_w = 1;
  // Per-side zero padding, so that asymmetric ("same" with even kernels) padding needs no pad op.
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  Activation activation = Activation::None;
};

// input (N, C, H, W), weight (O, C/groups, kH, kW) -> (N, O, OH, OW) with
// OH = (H + pad_top + pad_bottom - dilation_h * (kH - 1) - 1) / stride_h + 1 (likewise OW).
// Throws spdinfer::Error on anything inconsistent, saying what was expected and found.
Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& params);

// Plain loops with double accumulation: what the fast path is tested against.
// bias may be null, else shape (O). out must have conv2d_output_shape's shape.
void conv2d_reference(const Tensor& input, const Tensor& weight, const Tensor* bias,
                      const Conv2dParams& params, Tensor& out);

struct ConvPath;  // engine/ops/conv_path.h

// Floats of workspace conv2d needs for these shapes and this `threads` value (0 for the 1x1 and
// depthwise paths, which need none). Each thread gets its own slice.
std::size_t conv2d_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                    int threads);

// Fast path. `workspace` must hold conv2d_workspace_floats(..., threads) floats for the same
// `threads` value (it may be null when that is 0). Results equal the reference up to float
// rounding and do not depend on `threads` beyond that.
void conv2d(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
            Tensor& out, float* workspace, int threads);

// Both on a path chosen beforehand (choose_conv_path; not Winograd), as the graph's kernel does
// once, when it is prepared, so that a run neither chooses again nor can disagree with the
// workspace it was given.
std::size_t conv2d_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                    int threads, const ConvPath& path);
void conv2d(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
            Tensor& out, float* workspace, int threads, const ConvPath& path);

// The graph op "conv2d" (op_registry.h): input x (rank 4); weights weight
// (O, C/groups, kH, kW) [, bias (O)]; attributes as PyTorch's arguments.
OpDef conv2d_op();

}  // namespace spdinfer

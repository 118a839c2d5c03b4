// Fully connected layer, torch.nn.Linear: output = input * weight^T + bias.
//   input  (N, in), or (N, in, 1, 1) as left by adaptive_avg_pool2d, read as (N, in)
//   weight (out, in), PyTorch's layout
//   bias   (out), optional
//   output (N, out)
// Not supported: inputs of other ranks (flatten first), a fused activation.
#pragma once

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

// Validates the shapes (bias may be null) and returns (N, out); errors say
// which operand disagrees and how.
Shape linear_output_shape(const Shape& input, const Shape& weight, const Shape* bias = nullptr);

// bias may be null. output may not alias input.
void linear_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, Tensor& output);
// Via sgemm_bt, the output columns split over threads.
void linear(const Tensor& input, const Tensor& weight, const Tensor* bias, Tensor& output, int threads);

// The graph op "linear" (op_registry.h): input x; weights weight [, bias].
OpDef linear_op();

}  // namespace spdinfer

// Softmax along one axis (the last by default), torch.softmax(x, dim):
// exp(x - max) / sum(exp(x - max)) per slice, the max subtracted so large
// logits cannot overflow. A NaN anywhere in a slice makes that whole slice
// NaN (as in PyTorch); no input value causes undefined behaviour.
// Not supported: log_softmax, temperature, masking.
#pragma once

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct SoftmaxParams {
  int axis = -1;  // negative counts from the end, as in PyTorch
};

// The input shape; throws spdinfer::Error on a rank-0 input or an axis out of range.
Shape softmax_output_shape(const Shape& input, const SoftmaxParams& params = {});
// output may be the same memory as input (in place) for both forms.
void softmax_reference(const Tensor& input, const SoftmaxParams& params, Tensor& output);
void softmax(const Tensor& input, const SoftmaxParams& params, Tensor& output, int threads);

// The graph op "softmax" (op_registry.h): attribute axis (default -1).
OpDef softmax_op();

}  // namespace spdinfer

// Element-wise sum of two tensors of one shape, with an optional fused
// activation: ResNet's residual join ReLU(residual + shortcut) and YOLOv5's
// Bottleneck shortcut x + cv2(cv1(x)). Not a broadcasting add: the shapes
// must be identical, which is all those networks need.
#pragma once

#include "engine/ops/activation.h"
#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct AddParams {
  Activation activation = Activation::None;  // applied to the sum
};

// The shared shape of a and b; throws spdinfer::Error when they differ.
Shape add_output_shape(const Shape& a, const Shape& b);

// out = act(a + b), one element at a time.
void add_reference(const Tensor& a, const Tensor& b, const AddParams& params, Tensor& out);
// Same, split over threads. out may be the same memory as a or b (in place).
void add(const Tensor& a, const Tensor& b, const AddParams& params, Tensor& out, int threads);

// The graph op "add" (op_registry.h): two inputs of the same shape.
OpDef add_op();

}  // namespace spdinfer

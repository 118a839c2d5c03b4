// Concatenation of N tensors along one dimension, channels (dim 1) by
// default: YOLOv5's Concat of (N, Ci, H, W) maps into (N, sum Ci, H, W), and
// with axis 1 on (N, Ai, no) also Detect's joining of its three scales.
// Every input must have the same rank and agree on every other dimension.
// Not a view: the data is copied (the executor may later plan the inputs
// straight into the output's memory and skip the op).
#pragma once

#include <vector>

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct ConcatParams {
  int axis = 1;  // negative counts from the end, as in torch.cat
};

// Validates the inputs (at least one, same rank, equal dims but `axis`) and
// returns their concatenation's shape; errors name the offending input index.
Shape concat_output_shape(const std::vector<Shape>& inputs, const ConcatParams& params = {});

// No input pointer may be null; out may not alias an input.
void concat_reference(const std::vector<const Tensor*>& inputs, const ConcatParams& params, Tensor& out);
void concat(const std::vector<const Tensor*>& inputs, const ConcatParams& params, Tensor& out, int threads);

// The graph op "concat" (op_registry.h): one or more inputs.
OpDef concat_op();

}  // namespace spdinfer

// torch.flatten(x, 1): (N, d1, d2, ...) -> (N, d1 * d2 * ...), e.g. the
// (N, C, 1, 1) of a global average pool to the (N, C) a linear layer takes.
// The bytes do not move; both forms copy so that the op has an output of its
// own like every other (the graph may instead alias the input and skip it).
// Not supported: other start or end dimensions.
#pragma once

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

// Throws spdinfer::Error on an input of rank < 2.
Shape flatten_output_shape(const Shape& input);
void flatten_reference(const Tensor& input, Tensor& output);
// output may be the same memory as input, which makes it a no-op.
void flatten(const Tensor& input, Tensor& output, int threads);

// The graph op "flatten" (op_registry.h).
OpDef flatten_op();

}  // namespace spdinfer

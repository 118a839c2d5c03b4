// Pointwise activations, usable on their own or fused into the op before them
// (conv2d, batch_norm, space_to_depth) so the data is touched once.
#pragma once

#include <cstdint>
#include <string>

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct Node;

enum class Activation { None, ReLU, SiLU, Sigmoid };

// "none", "relu", "silu", "sigmoid"; parse throws spdinfer::Error on anything else.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);

// Plain loop, one element at a time: the reference.
void activation_reference(const Tensor& input, Activation a, Tensor& output);
// Fast form over a raw range, in place; what fused ops call on their output.
void apply_activation(float* data, int64_t n, Activation a);
// A convolution's epilogue over a (rows, cols) block of channels' rows (row stride ld), while it
// is still in cache: row r gets bias[r] added (bias may be null), then the activation.
void bias_activation(float* c, int64_t rows, int64_t cols, int64_t ld, const float* bias, Activation a);
// Fast form, tensor to tensor (may be the same memory), split over threads.
void activation(const Tensor& input, Activation a, Tensor& output, int threads);

// The node's "activation" attribute ("none" when absent), for ops with a fused activation.
Activation activation_attr(const Node& node);

// The graph ops "relu", "silu" and "sigmoid" (op_registry.h).
OpDef relu_op();
OpDef silu_op();
OpDef sigmoid_op();

}  // namespace spdinfer

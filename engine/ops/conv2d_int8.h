// 2-D convolution in int8: the input quantised per tensor, the weights per output channel, the
// products summed exactly in int32 and the result scaled back to float32. A conv2d graph node runs
// this when it carries the attribute "input_scale" (engine/ops/conv2d.cpp); without it, the float
// path runs as before.
//
// Semantics (conv2d_int8_reference is them, as plain loops):
//   input:   q_x = clamp(round(x / input_scale), -127, 127), round = to nearest, ties to even (the
//            processor's default rounding, what vcvtps2dq does); the clamp is applied before the
//            rounding as `v > -127 ? v : -127`, then `v < 127 ? v : 127`, so NaN becomes -127.
//            Zero padding contributes q = 0.
//   weights: per output channel o, s_w[o] = max|w[o]| / 127 (1 for an all-zero channel) and
//            q_w = clamp(round(w / s_w[o]), -127, 127), same rounding. A weight that was stored as
//            q_w * s_w with max|q_w| = 127 in every channel (the model file's int8 weights) gives
//            back the same q_w.
//   result:  acc[o][p] = sum of q_x * q_w over the receptive field, exact in int32 (|acc| <=
//            K * 127 * 127 < 2^31 for K = C/groups * kH * kW <= kInt8MaxDepth), then
//            y = act(float(acc) * (input_scale * s_w[o]) + bias[o]): the product input_scale *
//            s_w[o] rounded to float once, then a float multiply and a float add (no fused
//            multiply-add), then the fast activation (apply_activation, engine/ops/activation.h).
// The fast path (Conv2dInt8) computes the same integers and applies the same float operations
// in the same order, so it equals the reference bit for bit.
//
// Fast path, per (image, group, column tile): the input is quantised once per run into uint8
// (q_x + 128: the GEMM's B is unsigned, engine/kernels/qgemm.h), im2col copies bytes of that into
// the tile (padding = 128, the zero point) or, for 1x1 stride-1 unpadded convolutions, the
// quantised planes are B as they lie; the int8 GEMM gives the tile's int32 sums, and the epilogue
// (scale, bias, activation) turns them into the output while they are in cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops/conv2d.h"
#include "engine/tensor.h"

namespace spdinfer {

struct Node;

// Deepest GEMM (C/groups * kH * kW) whose int32 sums cannot overflow: K * 127 * 127 < 2^31.
inline constexpr int64_t kInt8MaxDepth = 133000;

// The input rule above for one value.
int8_t quantize_input_value(float x, float input_scale);

// The node's "input_scale": absent -> nullopt; a finite number > 0 (also as a float) -> it;
// anything else throws spdinfer::Error naming the attribute and what was found.
std::optional<float> input_scale_attr(const Node& node);

// A convolution's weight (O, C/groups, kH, kW) quantised per output channel by the rule above:
// q (O x K, K = C/groups * kH * kW, row-major) and scale (O).
struct Int8Weights {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> q;
  std::vector<float> scale;
};
Int8Weights quantize_conv_weights(const Tensor& weight);

// Plain loops: the semantics above. bias may be null; out must have conv2d_output_shape's shape.
void conv2d_int8_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
                           float input_scale, Tensor& out);

}  // namespace spdinfer

// conv2d in int8: the quantisation rules, the attribute, and the reference (conv2d_int8.h).
#include "engine/ops/conv2d_int8.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.h"
#include "engine/graph.h"

namespace spdinfer {

namespace {

// v clamped to [-127, 127] (NaN -> -127, as x86's maxps(v, -127) gives), then rounded to the
// nearest integer, ties to even.
int quantize_clamped(float v) {
  v = v > -127.0f ? v : -127.0f;
  v = v < 127.0f ? v : 127.0f;
  return static_cast<int>(std::nearbyint(v));
}

}  // namespace

int8_t quantize_input_value(float x, float input_scale) {
  return static_cast<int8_t>(quantize_clamped(x / input_scale));
}

std::optional<float> input_scale_attr(const Node& node) {
  auto it = node.attrs.find("input_scale");
  if (it == node.attrs.end()) return std::nullopt;
  if (!it->is_number())
    throw Error("attribute 'input_scale' must be a finite number > 0, found " + it->dump());
  const double value = it->get<double>();
  const float scale = static_cast<float>(value);
  if (!std::isfinite(value) || !std::isfinite(scale) || !(scale > 0.0f))
    throw Error("attribute 'input_scale' must be a finite number > 0 (as a float), found " + it->dump());
  return scale;
}

Int8Weights quantize_conv_weights(const Tensor& weight) {
  if (weight.shape().size() != 4)
    throw Error("int8 conv2d: weight must be rank 4 (O, C/groups, kH, kW), found " +
                shape_to_string(weight.shape()));
  Int8Weights q;
  q.rows = weight.shape()[0];
  q.cols = weight.shape()[1] * weight.shape()[2] * weight.shape()[3];
  q.q.resize(static_cast<std::size_t>(q.rows * q.cols));
  q.scale.resize(static_cast<std::size_t>(q.rows));
  const float* w = weight.data();
  for (int64_t o = 0; o < q.rows; ++o) {
    const float* row = w + o * q.cols;
    float max_abs = 0.0f;
    for (int64_t k = 0; k < q.cols; ++k) max_abs = std::max(max_abs, std::fabs(row[k]));
    const float s = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
    q.scale[o] = s;
    for (int64_t k = 0; k < q.cols; ++k) q.q[o * q.cols + k] = static_cast<int8_t>(quantize_clamped(row[k] / s));
  }
  return q;
}

void conv2d_int8_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                           float input_scale, Tensor& out) {
  const Shape out_shape = conv2d_output_shape(input.shape(), weight.shape(), p);
  if (out.shape() != out_shape)
    throw Error("int8 conv2d: output tensor must have shape " + shape_to_string(out_shape) + ", found " +
                shape_to_string(out.shape()));
  if (bias && bias->shape() != Shape{weight.shape()[0]})
    throw Error("int8 conv2d: bias must have shape (" + std::to_string(weight.shape()[0]) + "), found " +
                shape_to_string(bias->shape()));
  if (!(input_scale > 0.0f) || !std::isfinite(input_scale))
    throw Error("int8 conv2d: input_scale must be a finite number > 0, found " + std::to_string(input_scale));
  const Int8Weights w = quantize_conv_weights(weight);
  const int64_t N = input.shape()[0], C = input.shape()[1], H = input.shape()[2], W = input.shape()[3];
  const int64_t O = out_shape[1], OH = out_shape[2], OW = out_shape[3];
  const int64_t kH = weight.shape()[2], kW = weight.shape()[3];
  const int64_t Og = O / p.groups, Cg = C / p.groups;
  if (w.cols > kInt8MaxDepth)
    throw Error("int8 conv2d: depth C/groups*kH*kW = " + std::to_string(w.cols) + " exceeds " +
                std::to_string(kInt8MaxDepth) + ", where int32 sums could overflow");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t g = o / Og;
      const float multiplier = input_scale * w.scale[o];
      const float b = bias ? (*bias)[o] : 0.0f;
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int32_t acc = 0;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ky = 0; ky < kH; ++ky) {
              const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
              if (iy < 0 || iy >= H) continue;
              for (int64_t kx = 0; kx < kW; ++kx) {
                const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
                if (ix < 0 || ix >= W) continue;
                const int32_t qx = quantize_input_value(input[((n * C + g * Cg + ci) * H + iy) * W + ix], input_scale);
                acc += qx * w.q[o * w.cols + (ci * kH + ky) * kW + kx];
              }
            }
          out[((n * O + o) * OH + oy) * OW + ox] = static_cast<float>(acc) * multiplier + b;
        }
    }
  apply_activation(out.data(), out.numel(), p.activation);
}

}  // namespace spdinfer

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
// Fast path: the input is quantised once per run into uint8 planes (q_x + 128: the GEMM's B is
// unsigned, engine/kernels/qgemm.h) with the zero padding written out as 128, the zero point.
// Then per (image, group, column tile): im2col reads those bytes straight into the GEMM's packed
// layout (for 1x1 stride-1 unpadded convolutions the planes are B as they lie and are only
// packed), the int8 GEMM gives the tile's int32 sums, and the epilogue (scale, bias, activation)
// turns them into the output while they are in cache. When one image's output plane is smaller
// than a tile (a deep layer's 8x8 or 2x2), the images of the batch lie side by side in B instead
// (columns n * OH*OW + position), so that one GEMM covers several of them and the weights stream
// once per tile of the batch rather than once per image; the epilogue puts each image's columns
// back in its own place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/kernels/qgemm.h"
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

// The fast path for one input shape, prepared once (weights quantised and packed for the int8
// GEMM family `kernel`) and then immutable: run may be called from several threads at once, each
// with its own workspace.
class Conv2dInt8 {
 public:
  // What does not depend on the input shape: the weights quantised and packed for `kernel`, one
  // panel set per group, and each output channel's multiplier (input_scale * its weight scale) and
  // bias. Made once per node and shared by the plans of every input size (engine/prepared_weights.h).
  struct PackedWeights {
    const QgemmKernel* kernel = nullptr;
    float input_scale = 1.0f;
    std::vector<QgemmPackedA> groups;
    std::vector<float> multiplier;  // input_scale * s_w[o]
    std::vector<float> bias;        // bias[o], or 0 as in the reference
  };
  static std::shared_ptr<const PackedWeights> pack_weights(const Tensor& weight, const Tensor* bias,
                                                          const Conv2dParams& params, float input_scale,
                                                          const QgemmKernel& kernel = qgemm_kernel());

  Conv2dInt8(const Shape& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
             float input_scale, const QgemmKernel& kernel = qgemm_kernel());
  // With weights packed already (pack_weights of this weight, bias, params and input_scale).
  Conv2dInt8(const Shape& input, const Shape& weight_shape, const Conv2dParams& params,
             std::shared_ptr<const PackedWeights> packed);

  const Shape& output_shape() const { return output_shape_; }
  // Floats of workspace run needs on `threads` threads (the bytes it uses, rounded up): the
  // quantised input, and per thread an im2col tile, its packed copy and the tile's int32 sums.
  std::size_t workspace_floats(int threads) const;
  // "int8 im2col avx512-vnni", "int8 1x1 avx2", ...: for per-layer reports.
  std::string method() const;
  // out = the convolution of input (of the shape given at construction); workspace holds
  // workspace_floats(threads) floats. The bits do not depend on `threads`.
  void run(const Tensor& input, Tensor& out, float* workspace, int threads) const;

 private:
  // Work items are (plane, column tile, row tile), row tile fastest, a plane being an (image,
  // group), or a group of the whole batch when `batched`; each slot (thread)
  // takes a contiguous run of them and packs a column tile once for its row tiles. Row tiles
  // (output channels, a multiple of the kernel's rows) only when column tiles alone cannot give
  // the threads equal shares.
  struct Plan {
    bool batched = false;
    int64_t planes = 1, plane_cols = 0;  // plane_cols: OH*OW, or N*OH*OW when batched
    int64_t col_tiles = 1, tile_cols = 0;
    int64_t row_tiles = 1, tile_rows = 0;
    int64_t slots = 1;
  };
  Plan plan(int threads) const;
  // The quantised input, padding included: (N, C, padded_height, padded_width) bytes.
  int64_t padded_height() const;
  int64_t padded_width() const;
  int64_t input_bytes() const;
  // Bytes of one slot's workspace: [chunk offsets][packed im2col tile][int32 sums], each
  // 64-byte aligned.
  int64_t chunk_bytes(const Plan& plan) const;
  int64_t packed_bytes(const Plan& plan) const;
  int64_t slot_bytes(const Plan& plan) const;

  Conv2dParams p_;
  Shape input_, output_shape_;
  int64_t N_ = 0, C_ = 0, H_ = 0, W_ = 0, O_ = 0, kH_ = 0, kW_ = 0, OH_ = 0, OW_ = 0;
  int64_t groups_ = 1, Cg_ = 0, Og_ = 0, K_ = 0;
  bool pointwise_ = false;  // 1x1, stride 1, unpadded: the quantised planes are B as they lie
  std::shared_ptr<const PackedWeights> packed_;  // and the kernel family and input scale with them
};

}  // namespace spdinfer

// Nearest upsampling. The fast form widens each input row once into its
// first output row and copies that row s - 1 times below it, so each input
// row is read once and the output is written with contiguous stores.
#include "engine/ops/upsample.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

void check_output(const Tensor& input, const UpsampleParams& params, const Tensor& output) {
  const Shape expected = upsample_output_shape(input.shape(), params);
  if (output.shape() != expected)
    throw Error("upsample: output shape " + shape_to_string(output.shape()) + ", expected " +
                shape_to_string(expected));
}

}  // namespace

Shape upsample_output_shape(const Shape& input, const UpsampleParams& params) {
  if (input.size() != 4)
    throw Error("upsample: expected an (N, C, H, W) input, got " + shape_to_string(input));
  if (params.scale < 1)
    throw Error("upsample: scale must be at least 1, got " + std::to_string(params.scale));
  // Bound H and W first so that neither product below can overflow; shape_numel then checks the total.
  shape_numel(input);
  if (input[2] > std::numeric_limits<int32_t>::max() || input[3] > std::numeric_limits<int32_t>::max())
    throw Error("upsample: input " + shape_to_string(input) + " is too large");
  Shape out = {input[0], input[1], input[2] * params.scale, input[3] * params.scale};
  shape_numel(out);
  return out;
}

void upsample_reference(const Tensor& input, const UpsampleParams& params, Tensor& output) {
  check_output(input, params, output);
  const int64_t s = params.scale, H = input.dim(2), W = input.dim(3), Ho = output.dim(2), Wo = output.dim(3);
  // input (N, C, H, W) -> output (N, C, H * s, W * s)
  for (int64_t plane = 0; plane < input.dim(0) * input.dim(1); ++plane)
    for (int64_t y = 0; y < Ho; ++y)
      for (int64_t x = 0; x < Wo; ++x)
        output[(plane * Ho + y) * Wo + x] = input[(plane * H + y / s) * W + x / s];
}

void upsample(const Tensor& input, const UpsampleParams& params, Tensor& output, int threads) {
  check_output(input, params, output);
  const int64_t s = params.scale, W = input.dim(3), Wo = output.dim(3);
  const float* in = input.data();
  float* out = output.data();
  // One work item per input row (n, c, y), which owns output rows y * s .. y * s + s - 1.
  parallel_for(input.dim(0) * input.dim(1) * input.dim(2), threads, [&](int64_t row) {
    const float* src = in + row * W;
    float* dst = out + row * s * Wo;
    if (s == 2) {
      for (int64_t x = 0; x < W; ++x) dst[2 * x] = dst[2 * x + 1] = src[x];  // YOLOv5's case, unrolled
    } else {
      for (int64_t x = 0; x < W; ++x) std::fill(dst + x * s, dst + x * s + s, src[x]);
    }
    for (int64_t r = 1; r < s; ++r) std::copy(dst, dst + Wo, dst + r * Wo);
  });
}

namespace {
class UpsampleKernel : public Kernel {
 public:
  UpsampleKernel(const Node& node, const Shape& in) {
    p_.scale = int_attr(node, "scale_factor", 2);
    output_shape_ = upsample_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    upsample(*inputs[0], p_, out, threads);
  }

 private:
  UpsampleParams p_;
};
}  // namespace

OpDef upsample_nearest_op() {
  return unary_op("upsample_nearest", prepare_kernel<UpsampleKernel>);
}

}  // namespace spdinfer

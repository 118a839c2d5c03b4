// space_to_depth (block 2, SPD-Conv channel order): validation, reference and fast path.
// NOT pixel_unshuffle's order and NOT darknet reorg's: see space_to_depth.h.
#include "engine/ops/space_to_depth.h"

#include <string>

#include "engine/error.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

// (row offset, column offset) of each output slot, in the order of the reference's torch.cat:
// x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2].
constexpr int kSlotOffset[4][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};

void check_out_shape(const Tensor& input, const SpaceToDepthParams& params, const Tensor& out) {
  const Shape expected = space_to_depth_output_shape(input.shape(), params);
  if (out.shape() != expected)
    throw Error("space_to_depth: output tensor must have shape " + shape_to_string(expected) + ", found " +
                shape_to_string(out.shape()));
}

}  // namespace

Shape space_to_depth_output_shape(const Shape& input, const SpaceToDepthParams& params) {
  if (params.block != 2)
    throw Error("space_to_depth: only block 2 is supported (the SPD-Conv reference), found block " +
                std::to_string(params.block));
  if (input.size() != 4)
    throw Error("space_to_depth: input must be rank 4 (N, C, H, W), found shape " + shape_to_string(input));
  for (int64_t v : input)
    if (v < 0) throw Error("space_to_depth: negative dimension in input shape " + shape_to_string(input));
  if (input[2] % 2 != 0 || input[3] % 2 != 0)
    throw Error("space_to_depth: the SPD-Conv reference requires even height and width, found input shape " +
                shape_to_string(input));
  return {input[0], 4 * input[1], input[2] / 2, input[3] / 2};
}

void space_to_depth_reference(const Tensor& input, const SpaceToDepthParams& params, Tensor& out) {
  check_out_shape(input, params, out);
  const int64_t N = input.dim(0), C = input.dim(1), H = input.dim(2), W = input.dim(3);
  const int64_t OH = H / 2, OW = W / 2;
  // input (N, C, H, W) -> out (N, 4C, H/2, W/2), out channel slot * C + c
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t slot = 0; slot < 4; ++slot) {
      for (int64_t c = 0; c < C; ++c) {
        const int64_t oc = slot * C + c;
        for (int64_t y = 0; y < OH; ++y) {
          for (int64_t x = 0; x < OW; ++x) {
            float v =
                input[((n * C + c) * H + 2 * y + kSlotOffset[slot][0]) * W + 2 * x + kSlotOffset[slot][1]];
            if (params.scale) v *= params.scale[oc];
            if (params.shift) v += params.shift[oc];
            out[((n * 4 * C + oc) * OH + y) * OW + x] = v;
          }
        }
      }
    }
  }
  activation_reference(out, params.activation, out);
}

void space_to_depth(const Tensor& input, const SpaceToDepthParams& params, Tensor& out, int threads) {
  check_out_shape(input, params, out);
  const int64_t N = input.dim(0), C = input.dim(1), H = input.dim(2), W = input.dim(3);
  const int64_t OH = H / 2, OW = W / 2, OC = 4 * C;
  const float* in = input.data();
  float* o = out.data();
  parallel_for(N * OC, threads, [&](int64_t plane) {
    const int64_t n = plane / OC, oc = plane % OC, slot = oc / C, c = oc % C;
    // x * 1 + 0 == x, so the no-affine case shares the one loop.
    const float s = params.scale ? params.scale[oc] : 1.0f;
    const float t = params.shift ? params.shift[oc] : 0.0f;
    const float* src = in + (n * C + c) * H * W + kSlotOffset[slot][0] * W + kSlotOffset[slot][1];
    float* dst = o + plane * OH * OW;
    for (int64_t y = 0; y < OH; ++y, src += 2 * W, dst += OW) {
      for (int64_t x = 0; x < OW; ++x) dst[x] = src[2 * x] * s + t;
      apply_activation(dst, OW, params.activation);
    }
  });
}

}  // namespace spdinfer

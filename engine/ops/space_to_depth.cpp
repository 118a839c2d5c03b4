// space_to_depth (block 2, SPD-Conv channel order): validation, reference and fast path.
// NOT pixel_unshuffle's order and NOT darknet reorg's: see space_to_depth.h.
#include "engine/ops/space_to_depth.h"

#include <string>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/kernels/vector_clones.h"
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

namespace {

// One input plane (H, W) of channel c, split into the four output planes it feeds, each with its
// affine and activation. Each pair of input rows is read once and split into the four output
// rows it feeds (even/odd columns of the even row, then of the odd row), so no input cache line
// is fetched twice.
SPDINFER_VECTOR_CLONES
void split_plane(const float* src, int64_t H, int64_t W, float* const dst[4], const float s[4], const float t[4],
                 Activation activation) {
  const int64_t OH = H / 2, OW = W / 2;
  for (int64_t y = 0; y < OH; ++y, src += 2 * W) {
    for (int slot = 0; slot < 4; ++slot) {
      const float* row = src + kSlotOffset[slot][0] * W + kSlotOffset[slot][1];
      float* out_row = dst[slot] + y * OW;
      const float scale = s[slot], shift = t[slot];
      for (int64_t x = 0; x < OW; ++x) out_row[x] = row[2 * x] * scale + shift;
      apply_activation(out_row, OW, activation);
    }
  }
}

}  // namespace

void space_to_depth(const Tensor& input, const SpaceToDepthParams& params, Tensor& out, int threads) {
  check_out_shape(input, params, out);
  const int64_t N = input.dim(0), C = input.dim(1), H = input.dim(2), W = input.dim(3);
  const int64_t OH = H / 2, OW = W / 2, OC = 4 * C;
  const float* in = input.data();
  float* o = out.data();
  parallel_for(N * C, threads, [&](int64_t in_plane) {
    const int64_t n = in_plane / C, c = in_plane % C;
    float* dst[4];
    float s[4], t[4];
    for (int slot = 0; slot < 4; ++slot) {
      const int64_t oc = slot * C + c;
      dst[slot] = o + (n * OC + oc) * OH * OW;
      // x * 1 + 0 == x, so the no-affine case shares the one loop.
      s[slot] = params.scale ? params.scale[oc] : 1.0f;
      t[slot] = params.shift ? params.shift[oc] : 0.0f;
    }
    split_plane(in + in_plane * H * W, H, W, dst, s, t, params.activation);
  });
}

namespace {
class SpaceToDepthKernel : public Kernel {
 public:
  SpaceToDepthKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights) {
    p_.block = int_attr(node, "block", 2);
    p_.activation = activation_attr(node);
    output_shape_ = space_to_depth_output_shape(input, p_);
    if (weights.size() == 1) throw Error("takes both scale and shift weights, or neither");
    for (const Tensor* w : weights)
      if (w->shape() != Shape{output_shape_[1]})
        throw Error("affine weight shape " + shape_to_string(w->shape()) + ", expected (" +
                    std::to_string(output_shape_[1]) + ")");
    if (weights.size() == 2) p_.scale = weights[0]->data(), p_.shift = weights[1]->data();
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    space_to_depth(*inputs[0], p_, out, threads);
  }

 private:
  SpaceToDepthParams p_;
};
}  // namespace

OpDef space_to_depth_op() {
  return unary_op("space_to_depth", prepare_weighted_kernel<SpaceToDepthKernel>, 0, 2);
}

}  // namespace spdinfer

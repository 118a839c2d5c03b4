// Space-to-depth with block 2 in the SPD-Conv reference channel order, with an optional fused
// per-output-channel affine (a BatchNorm that follows it) and activation.
//
// Is: exactly torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)
// from the SPD-Conv code, i.e. output channel slot * C + c with
//   slot 0 = (even row, even col), 1 = (odd row, even col), 2 = (even row, odd col), 3 = (odd row, odd col).
// Is not: PyTorch's pixel_unshuffle (channel c * 4 + dy * 2 + dx: input channel outermost, column
// offset fastest), nor darknet's reorg: SPD-Conv weights would see scrambled channels under either.
#pragma once

#include "engine/ops/activation.h"
#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct SpaceToDepthParams {
  // Only 2 is supported: the SPD-Conv reference hard-codes it.
  int block = 2;
  // Optional per-output-channel affine, y = x * scale[c] + shift[c] before the activation.
  // Each, when not null, must hold 4C floats (one per output channel). Null means 1 / 0.
  const float* scale = nullptr;
  const float* shift = nullptr;
  Activation activation = Activation::None;
};

// (N, C, H, W) -> (N, 4C, H/2, W/2). Throws spdinfer::Error on odd H or W (the reference's
// slicing would give mismatched pieces that torch.cat rejects), rank != 4 or block != 2.
Shape space_to_depth_output_shape(const Shape& input, const SpaceToDepthParams& params);

void space_to_depth_reference(const Tensor& input, const SpaceToDepthParams& params, Tensor& out);
// Fast: parallel over (n, output channel) planes; the affine and activation are applied while
// each gathered row is in cache.
void space_to_depth(const Tensor& input, const SpaceToDepthParams& params, Tensor& out, int threads);

// The graph op "space_to_depth" (op_registry.h): input x; optional weights
// scale, shift (4C) of a BatchNorm fused after it (a BN after an SPD cannot
// fold into the conv before the SPD).
OpDef space_to_depth_op();

}  // namespace spdinfer

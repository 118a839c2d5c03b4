// Inference-time batch normalisation, y = (x - mean) / sqrt(var + eps) * gamma + beta per
// channel, with a fused activation; plus the helpers that turn BN into a per-channel affine
// (for fusion into space_to_depth) or fold it into the preceding convolution.
//
// Is: BatchNorm2d (N, C, H, W) and BatchNorm1d (N, C) with running statistics.
// Is not: training-mode BN (batch statistics), nor an updater of running statistics.
#pragma once

#include "engine/ops/activation.h"
#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct BatchNormParams {
  float eps = 1e-5f;
  Activation activation = Activation::None;
};

// The input shape itself, after checking it is (N, C, H, W) or (N, C) and eps >= 0.
Shape batch_norm_output_shape(const Shape& input, const BatchNormParams& params);

// gamma, beta, mean, var: shape (C). out: the input's shape (may be the input itself).
// The reference computes the formula literally, in double.
void batch_norm_reference(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                          const Tensor& var, const BatchNormParams& params, Tensor& out);
// Fast: y = x * scale[c] + shift[c] with scale and shift precomputed, parallel over (n, c) planes.
void batch_norm(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                const Tensor& var, const BatchNormParams& params, Tensor& out, int threads);

// scale = gamma / sqrt(var + eps), shift = beta - mean * scale (computed in double), so that
// BN(x) = x * scale + shift. scale and shift are allocated with shape (C) when empty, else
// must already have that shape. Throws when var + eps <= 0 for some channel.
void batch_norm_to_affine(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                          float eps, Tensor& scale, Tensor& shift);

// Rewrites a conv's weight (O, C/groups, kH, kW) and bias (O) so that conv' = BN(conv), exact up
// to float rounding (computed in double). A conv without bias passes a zero-filled (O) tensor.
// The BN tensors are indexed by the conv's output channel and must have shape (O).
void fold_batch_norm_into_conv(Tensor& weight, Tensor& bias, const Tensor& gamma, const Tensor& beta,
                               const Tensor& mean, const Tensor& var, float eps);

// The graph op "batch_norm" (op_registry.h): input x; weights gamma, beta,
// running_mean, running_var.
OpDef batch_norm_op();

}  // namespace spdinfer

// Nearest-neighbour upsampling of (N, C, H, W) images by an integer factor,
// torch.nn.Upsample(scale_factor=s, mode='nearest'): output pixel (y, x)
// copies input pixel (y / s, x / s). YOLOv5's head uses s = 2.
// Not supported: fractional scales, target sizes, bilinear or other modes.
#pragma once

#include "engine/op_registry.h"
#include "engine/tensor.h"

namespace spdinfer {

struct UpsampleParams {
  int scale = 2;  // the same integer factor for H and W
};

// (N, C, H, W) -> (N, C, H * scale, W * scale); throws spdinfer::Error on a
// rank other than 4 or a scale < 1.
Shape upsample_output_shape(const Shape& input, const UpsampleParams& params);
void upsample_reference(const Tensor& input, const UpsampleParams& params, Tensor& output);
void upsample(const Tensor& input, const UpsampleParams& params, Tensor& output, int threads);

// The graph op "upsample_nearest" (op_registry.h): attribute scale_factor.
OpDef upsample_nearest_op();

}  // namespace spdinfer

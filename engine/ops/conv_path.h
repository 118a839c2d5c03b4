// How a convolution runs: chosen in one place, once, when its kernel is prepared for an input
// shape (as ncnn's create_pipeline does), from the shapes alone; every threshold of the choice
// is in conv_path.cpp, in one block. The choice is printable (spdinfer bench --per-layer) and
// each fast path can be switched off (ConvSwitches), so that tests and golden runs compare every
// path with the reference through the graph's own entry point.
#pragma once

#include <cstdint>
#include <string>

#include "engine/ops/conv2d.h"
#include "engine/tensor.h"

namespace spdinfer {

enum class ConvMethod {
  Depthwise,  // one input channel per group: direct loops
  Winograd,   // 3x3 stride 1: F(2x2, 3x3) (engine/ops/winograd.h)
  Pointwise,  // 1x1 stride 1 unpadded: the input planes are the GEMM's B as they lie
  Direct,     // narrow layers of large maps, stride 1: summed straight from the input (conv_direct.h)
  Im2col,     // everything else: im2col tiles and a GEMM
};

// Which product the GEMM methods use.
enum class ConvProduct {
  Gemm,    // the engine's GEMM (engine/kernels/sgemm.h), reading the weights where they lie
  Narrow,  // dot products for a handful of columns (sgemm_narrow)
};

struct ConvPath {
  ConvMethod method = ConvMethod::Im2col;
  ConvProduct product = ConvProduct::Gemm;
  // Images whose columns share one GEMM (> 1 when each image's output plane is small).
  int64_t batch_images = 1;
  // "winograd", "im2col packed", "1x1 narrow x8 images", ...
  std::string name() const;
};

// The fast paths, each of which can be switched off. from_environment() reads SPDINFER_CONV_OFF,
// a comma-separated list of "winograd", "direct" and "narrow" (unknown words are an error).
struct ConvSwitches {
  bool winograd = true;
  bool direct = true;
  bool narrow = true;
  static ConvSwitches from_environment();
};

// The path for this input (N, C, H, W), weight (O, C/groups, kH, kW) and these params.
ConvPath choose_conv_path(const Shape& input, const Shape& weight, const Conv2dParams& params,
                          const ConvSwitches& switches = ConvSwitches::from_environment());

// The path conv2d itself takes for these shapes: never Winograd nor Direct (conv2d_winograd and
// conv2d_direct run those, from weights prepared for them).
ConvPath conv2d_path(const Shape& input, const Shape& weight, const Conv2dParams& params);

}  // namespace spdinfer

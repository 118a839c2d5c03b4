// A convolution's im2col matrix as a GEMM operand that is never built: Im2colB packs the blocks
// the GEMM asks for straight from the input image, so the matrix (K x OH*OW, K = C*kH*kW, nine
// times the input for a 3x3 kernel) is neither written to memory nor read back before packing.
//   B(k, j) = input(c, oy * stride_h + ky * dilation_h - pad_top, ox * stride_w + kx * dilation_w - pad_left)
//   with k = (c * kH + ky) * kW + kx, j = oy * OW + ox, and 0 where that falls in the padding.
#pragma once

#include <cstdint>

#include "engine/kernels/sgemm.h"

namespace spdinfer {

struct Im2colGeometry {
  int64_t channels = 0, height = 0, width = 0;  // the input (C, H, W) of one image and group
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
  int64_t out_h = 0, out_w = 0;
};

class Im2colB : public GemmB {
 public:
  // input: (C, H, W) of one image and group. B's column j is output position col0 + j.
  Im2colB(const float* input, const Im2colGeometry& g, int64_t col0 = 0) : input_(input), g_(g), col0_(col0) {}
  void pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* out) const override;

 private:
  const float* input_;
  Im2colGeometry g_;
  int64_t col0_;
};

// B(k, j) by the formula above, one element at a time: the reference Im2colB is tested against.
float im2col_reference(const float* input, const Im2colGeometry& g, int64_t k, int64_t j);

}  // namespace spdinfer

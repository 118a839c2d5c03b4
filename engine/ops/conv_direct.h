// Direct convolution for the narrow layers of large maps (YOLO's early 3x3 convolutions: 16-64
// output channels at 80-320 px), where im2col + GEMM spends about as long copying the receptive
// fields as multiplying them: each im2col value written serves only 16-64 multiply-adds.
//
// Per band of output rows, the input rows it reads are copied once with their zero padding
// around them (plain layout, a few hundred KiB, in L2); the family's kernel
// (engine/kernels/direct_conv_kernels.h) then sums each block of positions x output channels
// straight from that band, broadcasting input values against registers of packed weights, into a
// channels-last tile of the output row, which the family's registers transpose into the output planes; the bias and
// activation follow while the band's rows are in cache. The sums are the GEMM's, operation for
// operation, so the output equals the im2col path's bit for bit (tests/engine/test_conv_direct.cpp).
//
// Limits: one group, stride 1 or 2 (dilation and any padding allowed), a kernel larger than 1x1 (on
// YOLO's 1x1 layers it measured 0.7-0.96x the GEMM that reads the input planes as they lie); what
// chooses it is engine/ops/conv_path.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/kernels/direct_conv_kernels.h"
#include "engine/ops/conv2d.h"
#include "engine/tensor.h"

namespace spdinfer {

// Whether the direct path can run these shapes and params at all.
bool direct_conv_supports(const Shape& input, const Shape& weight, const Conv2dParams& params);

// A convolution's weight (O, C, kH, kW) packed for one family's kernel: output channels in groups
// of kernel.vectors registers (the last group as many registers as its channels need, the
// channels past O zero), each group k-major: value k (im2col order c, ky, kx) of the group's
// channels in consecutive floats. The same size as the weight, plus the padding. Made once per
// node (engine/prepared_weights.h).
class DirectConvWeights {
 public:
  DirectConvWeights(const DirectConvKernel& kernel, const Tensor& weight);

  const DirectConvKernel& kernel() const { return *kernel_; }
  const Shape& weight_shape() const { return weight_shape_; }
  int64_t groups() const { return static_cast<int64_t>(group_vectors_.size()); }
  // Registers of output channels in group g, and its packed values.
  int vectors(int64_t g) const { return group_vectors_[g]; }
  const float* group(int64_t g) const { return data_.data() + group_offset_[g]; }

 private:
  const DirectConvKernel* kernel_;
  Shape weight_shape_;
  std::vector<int> group_vectors_;
  std::vector<int64_t> group_offset_;
  std::vector<float> data_;
};

// Floats of workspace conv2d_direct needs on `threads` threads (each thread's band and row tile).
std::size_t conv2d_direct_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                           const DirectConvKernel& kernel, int threads);

// out = the convolution (bias may be null), on `threads` threads; the bits do not depend on them.
void conv2d_direct(const Tensor& input, const DirectConvWeights& weights, const Tensor* bias,
                   const Conv2dParams& params, Tensor& out, float* workspace, int threads);

}  // namespace spdinfer

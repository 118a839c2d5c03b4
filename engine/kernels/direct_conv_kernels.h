// The direct convolution's micro-kernels, one per instruction family (engine/kernels/cpu_features.h),
// for narrow convolutions on large maps (engine/ops/conv_direct.h): a block of output positions
// of one row by up to `vectors` registers of output channels, summed over the whole
// depth K = C * kH * kW straight from the input, with no im2col copy. Each input value is
// broadcast and multiplied by a register of output channels' weights, so the weights are the
// vector operand, as in a channel-blocked (NCHWc) kernel, while the input keeps its plain layout.
//
// The sums are the GEMM micro-kernel's (engine/kernels/gemm_kernels.h) to the bit: values of k in
// the im2col order (c, ky, kx), blocks of gemm_k_block(K), registers added to the result every
// 32 products of a block, the same multiply-add instruction. So a convolution gives the same bits
// whichever of the two paths runs it.
#pragma once

#include <cstdint>

#include "engine/kernels/cpu_features.h"

namespace spdinfer {

struct DirectConvKernel {
  Isa isa;
  int lanes;      // output channels per register
  int vectors;    // registers of output channels per block, at most
  int pixels[4];  // output positions per block of 1, 2, 3, 4 registers (entries past `vectors` unused)
  int pixels_for(int nvec) const { return pixels[nvec - 1]; }
  int max_pixels() const {
    int most = 0;
    for (int v = 1; v <= vectors; ++v) most = pixels_for(v) > most ? pixels_for(v) : most;
    return most;
  }
  // For p < pixels_for(nvec) and output channel j < nvec * lanes (nvec in [1, vectors]), stride
  // 1 or 2:
  //   tile[p * ldt + j] = sum over k < K of in[offsets[k] + p * stride] * w[k * nvec * lanes + j],
  // summed as described above with block_k = gemm_k_block(K) (engine/kernels/sgemm.h: passed in,
  // as a kernel file may not share inline code). `in` points at the block's first position;
  // offsets[k] is where value k of the receptive field lies from there.
  void (*run)(int64_t K, int64_t block_k, const int64_t* offsets, const float* in, const float* w, int nvec,
              int stride, float* tile, int64_t ldt);
  // The tile of an output row into the output planes: out[o * plane + x] = tile[x * ldt + o] for
  // x < positions, o < channels (registers of lanes x lanes transposed in place).
  void (*to_planes)(const float* tile, int64_t ldt, int64_t positions, int64_t channels, float* out, int64_t plane);
};

// Each family's kernel. Calling one the CPU lacks (isa_supported) is an illegal instruction.
const DirectConvKernel& direct_conv_kernel_generic();
const DirectConvKernel& direct_conv_kernel_avx2();
const DirectConvKernel& direct_conv_kernel_avx512();

// The kernel of a family (any family; the caller checks isa_supported).
const DirectConvKernel& direct_conv_kernel(Isa isa);

}  // namespace spdinfer

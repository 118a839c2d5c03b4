#include "engine/ops/conv_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/int_math.h"
#include "engine/kernels/sgemm.h"
#include "engine/ops/activation.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

// Floats of one thread's band of input rows: 256 KiB, a quarter of a 1 MiB L2, so that the band,
// the row tile and the weights stay there together.
constexpr int64_t kBandFloats = 1 << 16;

// Bands of output rows per thread, at least, where the map has the rows.
constexpr int64_t kBandsPerThread = 4;

// Slices of a thread's workspace start on a 64-byte boundary.
int64_t round_up_16(int64_t floats) { return (floats + 15) / 16 * 16; }

// Every size of one convolution on the direct path, derived once from the shapes.
struct DirectGeometry {
  int64_t N, C, H, W, O, kH, kW, OH, OW, K;
  int64_t band_width;       // floats per band row: left padding, the input row, right padding, slack
  int64_t rows_per_band;    // output rows a band serves
  int64_t band_input_rows;  // input rows it holds
  int64_t tile_ld;          // output channels in the row tile, every group's registers
  int64_t bands_per_image;

  DirectGeometry(const Shape& input, const Shape& weight, const Conv2dParams& p, const DirectConvKernel& kernel,
                 int threads) {
    const Shape out = conv2d_output_shape(input, weight, p);
    N = input[0], C = input[1], H = input[2], W = input[3];
    O = weight[0], kH = weight[2], kW = weight[3];
    OH = out[2], OW = out[3];
    K = C * kH * kW;
    // The last block of a row reads up to a block's positions past the row's end: slack, zero.
    band_width = p.pad_left + W + p.pad_right + int64_t{p.stride_w} * kernel.max_pixels();
    // Input rows for R output rows: (R - 1) * stride + the kernel's reach + 1.
    const int64_t reach = (kH - 1) * p.dilation_h, budget = kBandFloats / std::max<int64_t>(1, C * band_width);
    rows_per_band = std::clamp<int64_t>((budget - reach - 1) / p.stride_h + 1, 1, OH);
    // At least kBandsPerThread bands a thread where the batch allows, so that whole bands share
    // the rows out evenly (an 80-row map in 5 bands gave 2 threads 3 and 2).
    const int64_t bands_wanted = ceil_div(kBandsPerThread * std::max(threads, 1), std::max<int64_t>(N, 1));
    rows_per_band = std::min(rows_per_band, std::max<int64_t>(1, OH / bands_wanted));
    band_input_rows = input_rows(rows_per_band, p);
    const int64_t group_channels = int64_t{kernel.vectors} * kernel.lanes;
    tile_ld = ceil_div(O, group_channels) * group_channels;
    bands_per_image = ceil_div(OH, rows_per_band);
  }
  // Input rows a band of `rows` output rows reads.
  int64_t input_rows(int64_t rows, const Conv2dParams& p) const {
    return (rows - 1) * p.stride_h + (kH - 1) * p.dilation_h + 1;
  }
  int64_t band_floats() const { return round_up_16(C * band_input_rows * band_width); }
  int64_t tile_floats(const DirectConvKernel& kernel) const {
    return round_up_16((OW + kernel.max_pixels()) * tile_ld);  // a row's last block may pass OW
  }
  int64_t slot_floats(const DirectConvKernel& kernel) const { return band_floats() + tile_floats(kernel); }
  int64_t units() const { return N * bands_per_image; }
};

// Input rows [iy0, iy0 + rows) of every channel of one image, each with its zero padding and
// slack, into the band (channel c's rows at c * band_input_rows * band_width).
void fill_band(const float* image, const DirectGeometry& g, const Conv2dParams& p, int64_t iy0, int64_t rows,
               float* band) {
  for (int64_t c = 0; c < g.C; ++c) {
    const float* plane = image + c * g.H * g.W;
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = band + (c * g.band_input_rows + r) * g.band_width;
      const int64_t iy = iy0 + r;
      if (iy < 0 || iy >= g.H) {
        std::fill(dst, dst + g.band_width, 0.0f);
        continue;
      }
      std::fill(dst, dst + p.pad_left, 0.0f);
      std::memcpy(dst + p.pad_left, plane + iy * g.W, sizeof(float) * static_cast<std::size_t>(g.W));
      std::fill(dst + p.pad_left + g.W, dst + g.band_width, 0.0f);
    }
  }
}

}  // namespace

const DirectConvKernel& direct_conv_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return direct_conv_kernel_avx512();
    case Isa::Avx2: return direct_conv_kernel_avx2();
    case Isa::Generic: break;
  }
  return direct_conv_kernel_generic();
}

bool direct_conv_supports(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  return input.size() == 4 && weight.size() == 4 && p.groups == 1 && (p.stride_h == 1 || p.stride_h == 2) &&
         (p.stride_w == 1 || p.stride_w == 2) &&
         weight[2] * weight[3] > 1 && weight[1] == input[1];
}

DirectConvWeights::DirectConvWeights(const DirectConvKernel& kernel, const Tensor& weight)
    : kernel_(&kernel), weight_shape_(weight.shape()) {
  const Shape& s = weight_shape_;
  if (s.size() != 4) throw Error("direct convolution: weight must be rank 4, found " + shape_to_string(s));
  const int64_t O = s[0], K = s[1] * s[2] * s[3], lanes = kernel.lanes;
  const int64_t group_channels = int64_t{kernel.vectors} * lanes;
  for (int64_t o0 = 0, offset = 0; o0 < O; o0 += group_channels) {
    const int vectors = static_cast<int>(ceil_div(std::min(group_channels, O - o0), lanes));
    group_vectors_.push_back(vectors);
    group_offset_.push_back(offset);
    offset += K * vectors * lanes;
  }
  data_.assign(static_cast<std::size_t>(group_offset_.back() + K * group_vectors_.back() * lanes), 0.0f);
  const float* w = weight.data();
  for (int64_t g = 0; g < groups(); ++g) {
    const int64_t width = int64_t{group_vectors_[g]} * lanes, o0 = g * group_channels;
    float* dst = data_.data() + group_offset_[g];
    for (int64_t j = 0; j < width && o0 + j < O; ++j)
      for (int64_t k = 0; k < K; ++k) dst[k * width + j] = w[(o0 + j) * K + k];
  }
}

std::size_t conv2d_direct_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                           const DirectConvKernel& kernel, int threads) {
  const DirectGeometry g(input, weight, params, kernel, threads);
  const int64_t slots = std::max<int64_t>(1, std::min<int64_t>(std::max(threads, 1), g.units()));
  return static_cast<std::size_t>(slots * g.slot_floats(kernel));
}

void conv2d_direct(const Tensor& input, const DirectConvWeights& weights, const Tensor* bias,
                   const Conv2dParams& p, Tensor& out, float* workspace, int threads) {
  const DirectConvKernel& kernel = weights.kernel();
  if (!direct_conv_supports(input.shape(), weights.weight_shape(), p))
    throw Error("direct convolution: input " + shape_to_string(input.shape()) + " and weight " +
                shape_to_string(weights.weight_shape()) + " need one group and stride 1 or 2");
  const DirectGeometry g(input.shape(), weights.weight_shape(), p, kernel, threads);
  if (out.shape() != Shape{g.N, g.O, g.OH, g.OW})
    throw Error("direct convolution: output tensor must have shape " + shape_to_string({g.N, g.O, g.OH, g.OW}) +
                ", found " + shape_to_string(out.shape()));
  if (bias && bias->shape() != Shape{g.O})
    throw Error("direct convolution: bias must have shape (" + std::to_string(g.O) + "), found " +
                shape_to_string(bias->shape()));
  if (!workspace) throw Error("direct convolution: no workspace given");
  const int64_t units = g.units();
  const int64_t slots = std::max<int64_t>(1, std::min<int64_t>(std::max(threads, 1), units));
  const int64_t block_k = gemm_k_block(g.K);
  const int64_t group_channels = int64_t{kernel.vectors} * kernel.lanes;
  const float* b = bias ? bias->data() : nullptr;
  parallel_for(slots, threads, [&](int64_t slot) {
    float* band = workspace + slot * g.slot_floats(kernel);
    float* tile = band + g.band_floats();
    // Where value k = (c, ky, kx) of a receptive field lies from its position's band entry (per
    // thread, grown to the deepest layer seen and then reused: no allocation in the steady state).
    thread_local std::vector<int64_t> offset_table;
    if (offset_table.size() < static_cast<std::size_t>(g.K)) offset_table.resize(static_cast<std::size_t>(g.K));
    int64_t* offsets = offset_table.data();
    for (int64_t c = 0, k = 0; c < g.C; ++c)
      for (int64_t ky = 0; ky < g.kH; ++ky)
        for (int64_t kx = 0; kx < g.kW; ++kx, ++k)
          offsets[k] = (c * g.band_input_rows + ky * p.dilation_h) * g.band_width + kx * p.dilation_w;
    for (int64_t unit = slot * units / slots; unit < (slot + 1) * units / slots; ++unit) {
      const int64_t n = unit / g.bands_per_image, oy0 = unit % g.bands_per_image * g.rows_per_band;
      const int64_t rows = std::min(g.rows_per_band, g.OH - oy0);
      fill_band(input.data() + n * g.C * g.H * g.W, g, p, oy0 * p.stride_h - p.pad_top, g.input_rows(rows, p), band);
      float* image_out = out.data() + n * g.O * g.OH * g.OW;
      for (int64_t r = 0; r < rows; ++r) {
        const float* band_row = band + r * p.stride_h * g.band_width;
        for (int64_t gi = 0; gi < weights.groups(); ++gi) {
          const int nvec = weights.vectors(gi);
          for (int64_t x0 = 0; x0 < g.OW; x0 += kernel.pixels_for(nvec))
            kernel.run(g.K, block_k, offsets, band_row + x0 * p.stride_w, weights.group(gi), nvec, p.stride_w,
                       tile + x0 * g.tile_ld + gi * group_channels, g.tile_ld);
        }
        kernel.to_planes(tile, g.tile_ld, g.OW, g.O, image_out + (oy0 + r) * g.OW, g.OH * g.OW);
      }
      // The band's output rows of every channel are one contiguous range per plane.
      bias_activation(image_out + oy0 * g.OW, g.O, rows * g.OW, g.OH * g.OW, b, p.activation);
    }
  });
}

}  // namespace spdinfer

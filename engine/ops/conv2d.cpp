// conv2d: shape validation, the naive reference and the fast path.
//
// Fast path, per (image n, group g), as one GEMM:
//   out_g (O/groups, OH*OW) = weight_g (O/groups, K) * col (K, OH*OW),  K = C/groups * kH * kW
// where col is the im2col matrix of the input. The OH*OW columns are cut into tiles so that a
// tile's im2col block stays in L2 and so that batch-1, groups-1 layers (the common case) still
// give every thread work: each thread writes its own im2col tile into its own workspace slice
// and runs a single-threaded sgemm into its slice of the output columns (ldc = OH*OW). Outputs
// too small to split by columns are split by output channels (GEMM rows) as well.
// 1x1 stride-1 unpadded convolutions skip im2col: the input plane already is col.
// When one image's output plane is small (deep layers of a classifier: 8x8, 4x4), a GEMM per
// image has too few columns for sgemm to run well, so several images share one GEMM: their
// im2col blocks (or, for 1x1, their input planes) sit side by side in col, and the result is
// scattered back to each image's planes while the bias and activation are applied.
// Depthwise convolutions (one input channel per group) use direct loops instead of
// O tiny GEMMs with K = kH*kW.
#include "engine/ops/conv2d.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/int_math.h"
#include "engine/kernels/blas.h"
#include "engine/kernels/sgemm.h"
#include "engine/kernels/vector_clones.h"
#include "engine/ops/conv2d_int8.h"
#include "engine/ops/conv_direct.h"
#include "engine/ops/conv_path.h"
#include "engine/ops/winograd.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

// Target size of one thread's im2col tile: half of a 1 MiB L2, leaving room for the packed
// weight block the GEMM keeps next to it.
constexpr int64_t kIm2colTileFloats = 1 << 17;
// Narrower tiles make sgemm repack the weights too often for too little work.
constexpr int64_t kMinTileCols = 128;
// When splitting a small output over threads: sgemm slows down below about this many columns,
// and output-channel (row) tiles smaller than an sgemm micro-kernel's height waste it.
constexpr int64_t kMinSplitCols = 64;
constexpr int64_t kMinSplitRows = 16;
// Output channels per batched GEMM: enough rows for sgemm to run well, few enough that a
// layer has a tile for each thread.
constexpr int64_t kBatchedTileRows = 64;

// Every size the kernels need, derived once from validated shapes.
struct ConvDims {
  int64_t N, C, H, W;   // input (N, C, H, W)
  int64_t O, kH, kW;    // weight (O, C/groups, kH, kW)
  int64_t OH, OW, OHW;  // output (N, O, OH, OW)
  int64_t groups, Cg, Og, K;
};

ConvDims conv_dims(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  const Shape out = conv2d_output_shape(input, weight, p);
  ConvDims d;
  d.N = input[0], d.C = input[1], d.H = input[2], d.W = input[3];
  d.O = weight[0], d.kH = weight[2], d.kW = weight[3];
  d.OH = out[2], d.OW = out[3], d.OHW = d.OH * d.OW;
  d.groups = p.groups, d.Cg = d.C / p.groups, d.Og = d.O / p.groups;
  d.K = d.Cg * d.kH * d.kW;
  return d;
}

// Checks the tensors of a conv2d call against each other; returns the sizes.
ConvDims check_conv_call(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                         const Tensor& out) {
  const ConvDims d = conv_dims(input.shape(), weight.shape(), p);
  if (bias && bias->shape() != Shape{d.O})
    throw Error("conv2d: bias must have shape (" + std::to_string(d.O) + ") for weight " +
                shape_to_string(weight.shape()) + ", found " + shape_to_string(bias->shape()));
  const Shape expected{d.N, d.O, d.OH, d.OW};
  if (out.shape() != expected)
    throw Error("conv2d: output tensor must have shape " + shape_to_string(expected) + ", found " +
                shape_to_string(out.shape()));
  return d;
}

// The output positions x in [0, count) whose input position x * stride + offset lies in
// [0, size), as [lo, hi). Padding is what falls outside.
struct Range {
  int64_t lo, hi;
};
Range valid_range(int64_t count, int64_t stride, int64_t offset, int64_t size) {
  int64_t lo = offset >= 0 ? 0 : ceil_div(-offset, stride);
  int64_t hi = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
  lo = std::min(lo, count);
  hi = std::max(lo, std::min(hi, count));
  return {lo, hi};
}

// How the fast path splits the work; conv2d_workspace_floats and conv2d must agree on it,
// so both derive it from the same (shapes, params, threads).
// GEMM paths: work items are (image, group, column tile, row tile). Column tiles bound the im2col
// tile to the cache budget and are the preferred way to give threads work (no work is repeated);
// when the output is too small for that (deep layers: few columns, many output channels), the
// output channels are split as well, each thread building its own copy of the im2col tile.
// The method and product are choose_conv_path's (engine/ops/conv_path.h).
struct ConvPlan {
  ConvMethod method;
  int64_t col_tiles = 1, tile_cols = 0;  // per (image, group); the last tile may be shorter
  int64_t row_tiles = 1, tile_rows = 0;  // output channels of a group, likewise
  int64_t batch_images = 1;              // images per GEMM; > 1 only with col_tiles == 1
  ConvProduct product = ConvProduct::Gemm;
  int64_t slots = 1;                     // threads actually used = workspace slices
  int64_t items() const { return col_tiles * row_tiles; }
  // Floats of one slot's workspace slice: the im2col tile (or, batched, the gathered columns of
  // batch_images images) and, batched, the GEMM's output before it is scattered to the images.
  int64_t slot_floats(const ConvDims& d) const {
    if (batch_images > 1) return (d.K + tile_rows) * batch_images * d.OHW;
    return method == ConvMethod::Im2col ? d.K * tile_cols : 0;
  }
};

// The split of the work for the path chosen, on `threads` threads.
ConvPlan plan_conv(const ConvDims& d, int threads, const ConvPath& path) {
  threads = std::max(threads, 1);
  ConvPlan plan{path.method};
  plan.product = path.product;
  if (path.method == ConvMethod::Depthwise) {
    plan.slots = std::max<int64_t>(1, std::min<int64_t>(threads, d.N * d.O));
    return plan;
  }
  const bool pointwise = path.method == ConvMethod::Pointwise;
  plan.batch_images = path.batch_images;
  const bool batched = plan.batch_images > 1;
  const int64_t max_cols = pointwise || batched ? d.OHW : std::max(kMinTileCols, kIm2colTileFloats / d.K);
  // A "plane" is one GEMM's worth of images for one group.
  const int64_t planes = ceil_div(d.N, plan.batch_images) * d.groups;
  int64_t col_tiles = ceil_div(d.OHW, max_cols), row_tiles = 1;
  if (batched) {
    // Whole planes (the scatter assumes it) cut into row tiles of a fixed height: the GEMMs
    // are the same whatever the thread count, so results are too, bit for bit, and threads
    // share the tiles when there are fewer planes than threads.
    row_tiles = ceil_div(d.Og, kBatchedTileRows);
  } else if (threads > 1) {
    // Pieces per plane so that planes * pieces is a multiple of threads: every thread gets
    // work, and the same amount of it.
    int64_t pieces = col_tiles;
    while (planes * pieces % threads != 0) ++pieces;
    const int64_t max_col_tiles = std::max(col_tiles, d.OHW / kMinSplitCols);
    if (pieces <= max_col_tiles) {
      col_tiles = pieces;
    } else {
      row_tiles = std::min(ceil_div(pieces, col_tiles), std::max<int64_t>(1, d.Og / kMinSplitRows));
      // Too few output channels to split either: narrow column tiles beat an idle thread.
      if (col_tiles * row_tiles < pieces) col_tiles = pieces, row_tiles = 1;
    }
  }
  plan.tile_cols = ceil_div(d.OHW, std::min(col_tiles, d.OHW));
  plan.col_tiles = ceil_div(d.OHW, plan.tile_cols);
  plan.tile_rows = ceil_div(d.Og, row_tiles);
  plan.row_tiles = ceil_div(d.Og, plan.tile_rows);
  plan.slots = std::max<int64_t>(1, std::min<int64_t>(threads, planes * plan.items()));
  return plan;
}

// Columns [c0, c0 + cols) of the im2col matrix of one image and group.
// in: (C/groups, H, W) of that image and group; col: (K, cols) row-major with row stride ld,
// row (c, ky, kx), column j = output position c0 + j = oy * OW + ox.
SPDINFER_VECTOR_CLONES
void im2col_tile(const float* in, const ConvDims& d, const Conv2dParams& p, int64_t c0, int64_t cols,
                 int64_t ld, float* col) {
  const int64_t sh = p.stride_h, sw = p.stride_w;
  float* dst = col;
  for (int64_t c = 0; c < d.Cg; ++c) {
    const float* plane = in + c * d.H * d.W;
    for (int64_t ky = 0; ky < d.kH; ++ky) {
      const int64_t yoff = ky * p.dilation_h - p.pad_top;
      for (int64_t kx = 0; kx < d.kW; ++kx, dst += ld) {
        const int64_t xoff = kx * p.dilation_w - p.pad_left;
        const Range xr = valid_range(d.OW, sw, xoff, d.W);
        // Walk the tile one output row (run) at a time.
        int64_t oy = c0 / d.OW, ox = c0 % d.OW;
        for (int64_t j = 0; j < cols; j += d.OW - ox, ox = 0, ++oy) {
          const int64_t end = std::min(d.OW, ox + cols - j);  // exclusive ox of this run
          float* run = dst + j;                               // run[x - ox] is output column x
          const int64_t iy = oy * sh + yoff;
          if (iy < 0 || iy >= d.H) {
            std::fill(run, run + (end - ox), 0.0f);
            continue;
          }
          const float* row = plane + iy * d.W;
          const int64_t a = std::clamp(xr.lo, ox, end), b = std::clamp(xr.hi, ox, end);
          std::fill(run, run + (a - ox), 0.0f);
          if (sw == 1) {
            if (b > a) std::copy(row + a + xoff, row + b + xoff, run + (a - ox));
          } else if (sw == 2) {
            // Every other input: a constant stride the compiler turns into vector shuffles (the
            // strided convolutions of YOLOv5 and ResNet shortcuts), where a variable one stays
            // scalar.
            for (int64_t x = a; x < b; ++x) run[x - ox] = row[2 * x + xoff];
          } else {
            for (int64_t x = a; x < b; ++x) run[x - ox] = row[x * sw + xoff];
          }
          std::fill(run + (b - ox), run + (end - ox), 0.0f);
        }
      }
    }
  }
}

// One output plane of a depthwise convolution, accumulated row by row so that each output
// row stays in L1 while the kH * kW taps are added.
// in: (H, W) plane of the input channel; w: (kH, kW); out: (OH, OW).
void depthwise_plane(const float* in, const float* w, float bias, const ConvDims& d, const Conv2dParams& p,
                     float* out) {
  const int64_t sw = p.stride_w;
  for (int64_t oy = 0; oy < d.OH; ++oy) {
    float* orow = out + oy * d.OW;
    std::fill(orow, orow + d.OW, bias);
    for (int64_t ky = 0; ky < d.kH; ++ky) {
      const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
      if (iy < 0 || iy >= d.H) continue;
      const float* irow = in + iy * d.W;
      for (int64_t kx = 0; kx < d.kW; ++kx) {
        const float wv = w[ky * d.kW + kx];
        const int64_t xoff = kx * p.dilation_w - p.pad_left;
        const Range xr = valid_range(d.OW, sw, xoff, d.W);
        if (sw == 1) {
          for (int64_t x = xr.lo; x < xr.hi; ++x) orow[x] += wv * irow[x + xoff];
        } else {
          for (int64_t x = xr.lo; x < xr.hi; ++x) orow[x] += wv * irow[x * sw + xoff];
        }
      }
    }
  }
}

// out (rows x N) = rows [oc0, oc0 + rows) of the weight w (O, K) * columns B (K x N), by the
// product the plan chose.
void gemm(ConvProduct product, const float* w, int64_t oc0, int64_t rows, int64_t N, int64_t K, const float* B,
          int64_t ldb, float* C, int64_t ldc) {
  (product == ConvProduct::Narrow ? sgemm_narrow : sgemm)(
      static_cast<int>(rows), static_cast<int>(N), static_cast<int>(K), w + oc0 * K,
      static_cast<int>(K), B, static_cast<int>(ldb), C, static_cast<int>(ldc), false);
}

// One GEMM for `images` consecutive images (from image n) of group g, output channels
// [oc0, oc0 + rows): col (K, images * OH*OW) holds the images' im2col blocks (for a 1x1
// convolution, their input planes) side by side, built when `build` is set (the previous item
// may have left the same block); the product goes to the rows after col, gets the bias and
// activation, and is then copied to each image's output planes.
void batched_gemm(const float* in, const float* w, const float* bias, const ConvDims& d,
                  const Conv2dParams& p, bool pointwise, ConvProduct product, int64_t n, int64_t images,
                  int64_t g, int64_t oc0, int64_t rows, bool build, float* col, float* out) {
  const int64_t ld = images * d.OHW;
  if (build) {
    for (int64_t i = 0; i < images; ++i) {
      const float* in_g = in + ((n + i) * d.C + g * d.Cg) * d.H * d.W;
      if (pointwise) {
        for (int64_t c = 0; c < d.Cg; ++c)
          std::copy(in_g + c * d.OHW, in_g + (c + 1) * d.OHW, col + c * ld + i * d.OHW);
      } else {
        im2col_tile(in_g, d, p, 0, d.OHW, ld, col + i * d.OHW);
      }
    }
  }
  float* result = col + d.K * ld;  // (rows, images * OH*OW)
  gemm(product, w, oc0, rows, ld, d.K, col, ld, result, ld);
  // Bias and activation along the result's rows, which span every image (the planes are
  // small, so per plane the vectorised activation would run on a few floats at a time).
  bias_activation(result, rows, ld, ld, bias ? bias + oc0 : nullptr, p.activation);
  for (int64_t i = 0; i < images; ++i) {
    float* dst = out + ((n + i) * d.O + oc0) * d.OHW;  // (rows, OH*OW) of image n + i
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = result + r * ld + i * d.OHW;
      std::copy(src, src + d.OHW, dst + r * d.OHW);
    }
  }
}

}  // namespace

ConvPath conv2d_path(const Shape& input, const Shape& weight, const Conv2dParams& params) {
  ConvSwitches switches = ConvSwitches::from_environment();
  switches.winograd = false;  // the kernel's choices, made before conv2d is called
  switches.direct = false;
  return choose_conv_path(input, weight, params, switches);
}

Shape conv2d_output_shape(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  if (input.size() != 4)
    throw Error("conv2d: input must be rank 4 (N, C, H, W), found shape " + shape_to_string(input));
  if (weight.size() != 4)
    throw Error("conv2d: weight must be rank 4 (O, C/groups, kH, kW), found shape " +
                shape_to_string(weight));
  for (int64_t v : input)
    if (v < 0) throw Error("conv2d: negative dimension in input shape " + shape_to_string(input));
  if (input[1] <= 0 || weight[0] <= 0 || weight[1] <= 0)
    throw Error("conv2d: channel counts must be positive, found input " + shape_to_string(input) +
                " and weight " + shape_to_string(weight));
  if (weight[2] <= 0 || weight[3] <= 0)
    throw Error("conv2d: kernel size must be positive, found weight " + shape_to_string(weight));
  if (p.kernel_h < 0 || p.kernel_w < 0)
    throw Error("conv2d: kernel size must be positive (or 0 to take it from the weight), found " +
                std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w));
  if ((p.kernel_h > 0 && p.kernel_h != weight[2]) || (p.kernel_w > 0 && p.kernel_w != weight[3]))
    throw Error("conv2d: params give kernel " + std::to_string(p.kernel_h) + "x" +
                std::to_string(p.kernel_w) + " but the weight " + shape_to_string(weight) + " has " +
                std::to_string(weight[2]) + "x" + std::to_string(weight[3]));
  if (p.stride_h <= 0 || p.stride_w <= 0)
    throw Error("conv2d: stride must be positive, found " + std::to_string(p.stride_h) + "x" +
                std::to_string(p.stride_w));
  if (p.dilation_h <= 0 || p.dilation_w <= 0)
    throw Error("conv2d: dilation must be positive, found " + std::to_string(p.dilation_h) + "x" +
                std::to_string(p.dilation_w));
  if (p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0)
    throw Error("conv2d: padding must not be negative, found top " + std::to_string(p.pad_top) + " left " +
                std::to_string(p.pad_left) + " bottom " + std::to_string(p.pad_bottom) + " right " +
                std::to_string(p.pad_right));
  if (p.groups <= 0) throw Error("conv2d: groups must be positive, found " + std::to_string(p.groups));
  const int64_t C = input[1], O = weight[0];
  if (C % p.groups != 0)
    throw Error("conv2d: input channels " + std::to_string(C) + " (input " + shape_to_string(input) +
                ") are not divisible by groups " + std::to_string(p.groups));
  if (O % p.groups != 0)
    throw Error("conv2d: output channels " + std::to_string(O) + " (weight " + shape_to_string(weight) +
                ") are not divisible by groups " + std::to_string(p.groups));
  if (weight[1] != C / p.groups)
    throw Error("conv2d: weight " + shape_to_string(weight) + " has " + std::to_string(weight[1]) +
                " input channels per group, expected input channels " + std::to_string(C) + " / groups " +
                std::to_string(p.groups) + " = " + std::to_string(C / p.groups));
  auto out_size = [&](int64_t size, int pad_a, int pad_b, int64_t k, int dil, int stride, const char* what) {
    const int64_t span = size + pad_a + pad_b, dilated = int64_t{dil} * (k - 1) + 1;
    if (span < dilated)
      throw Error(std::string("conv2d: output ") + what + " would be <= 0: input " + what + " " +
                  std::to_string(size) + " + padding " + std::to_string(pad_a) + " + " +
                  std::to_string(pad_b) + " is smaller than the dilated kernel " + what + " " +
                  std::to_string(dilated) + " (input " + shape_to_string(input) + ", weight " +
                  shape_to_string(weight) + ")");
    return (span - dilated) / stride + 1;
  };
  const int64_t OH =
      out_size(input[2], p.pad_top, p.pad_bottom, weight[2], p.dilation_h, p.stride_h, "height");
  const int64_t OW =
      out_size(input[3], p.pad_left, p.pad_right, weight[3], p.dilation_w, p.stride_w, "width");
  return {input[0], O, OH, OW};
}

void conv2d_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                      Tensor& out) {
  const ConvDims d = check_conv_call(input, weight, bias, p, out);
  // input (N, C, H, W), weight (O, C/groups, kH, kW), out (N, O, OH, OW)
  for (int64_t n = 0; n < d.N; ++n) {
    for (int64_t o = 0; o < d.O; ++o) {
      const int64_t g = o / d.Og;
      for (int64_t oy = 0; oy < d.OH; ++oy) {
        for (int64_t ox = 0; ox < d.OW; ++ox) {
          double acc = bias ? (*bias)[o] : 0.0;
          for (int64_t ci = 0; ci < d.Cg; ++ci) {
            const int64_t c = g * d.Cg + ci;
            for (int64_t ky = 0; ky < d.kH; ++ky) {
              const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
              if (iy < 0 || iy >= d.H) continue;
              for (int64_t kx = 0; kx < d.kW; ++kx) {
                const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
                if (ix < 0 || ix >= d.W) continue;
                acc += double{weight[((o * d.Cg + ci) * d.kH + ky) * d.kW + kx]} *
                       input[((n * d.C + c) * d.H + iy) * d.W + ix];
              }
            }
          }
          out[((n * d.O + o) * d.OH + oy) * d.OW + ox] = static_cast<float>(acc);
        }
      }
    }
  }
  activation_reference(out, p.activation, out);
}

std::size_t conv2d_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                    int threads) {
  return conv2d_workspace_floats(input, weight, params, threads, conv2d_path(input, weight, params));
}

std::size_t conv2d_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                    int threads, const ConvPath& path) {
  const ConvDims d = conv_dims(input, weight, params);
  const ConvPlan plan = plan_conv(d, threads, path);
  return static_cast<std::size_t>(plan.slots * plan.slot_floats(d));
}

void conv2d(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p, Tensor& out,
            float* workspace, int threads) {
  conv2d(input, weight, bias, p, out, workspace, threads, conv2d_path(input.shape(), weight.shape(), p));
}

void conv2d(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p, Tensor& out,
            float* workspace, int threads, const ConvPath& path) {
  const ConvDims d = check_conv_call(input, weight, bias, p, out);
  if (path.method == ConvMethod::Winograd) throw Error("conv2d: the Winograd path is conv2d_winograd's");
  if (path.method == ConvMethod::Direct) throw Error("conv2d: the direct path is conv2d_direct's");
  const ConvPlan plan = plan_conv(d, threads, path);
  const float* in = input.data();
  const float* w = weight.data();
  const float* b = bias ? bias->data() : nullptr;
  float* o = out.data();

  if (plan.method == ConvMethod::Depthwise) {
    // One input channel per group: output channel oc reads input channel oc / (O / C).
    parallel_for(d.N * d.O, threads, [&](int64_t plane) {
      const int64_t n = plane / d.O, oc = plane % d.O, c = oc / d.Og;
      float* dst = o + plane * d.OHW;
      depthwise_plane(in + (n * d.C + c) * d.H * d.W, w + oc * d.kH * d.kW, b ? b[oc] : 0.0f, d, p, dst);
      apply_activation(dst, d.OHW, p.activation);
    });
    return;
  }

  check_blas_int(d.K, "conv2d", "GEMM depth C/groups*kH*kW");
  check_blas_int(d.H * d.W, "conv2d", "input plane size H*W");
  check_blas_int(d.N * d.OHW, "conv2d", "output columns N*OH*OW");
  if (plan.slot_floats(d) > 0 && !workspace)
    throw Error("conv2d: this convolution needs a workspace of " +
                std::to_string(plan.slots * plan.slot_floats(d)) + " floats, got none");

  const int64_t items = ceil_div(d.N, plan.batch_images) * d.groups * plan.items();
  // Items are (images, group, column tile, row tile), row tile fastest; each slot takes a
  // contiguous run of them and owns workspace slice `slot`, so no two threads share im2col
  // memory, and consecutive row tiles of one column tile reuse the slot's im2col tile.
  parallel_for(plan.slots, threads, [&](int64_t slot) {
    float* col = workspace ? workspace + slot * plan.slot_floats(d) : nullptr;
    int64_t built = -1;  // (plane, column tile) whose im2col tile `col` holds
    for (int64_t item = slot * items / plan.slots; item < (slot + 1) * items / plan.slots; ++item) {
      const int64_t rt = item % plan.row_tiles, ct = item / plan.row_tiles % plan.col_tiles;
      const int64_t plane = item / plan.items(), n = plane / d.groups * plan.batch_images, g = plane % d.groups;
      const int64_t r0 = rt * plan.tile_rows, rows = std::min(plan.tile_rows, d.Og - r0);
      const int64_t oc0 = g * d.Og + r0;  // first output channel of the item
      const bool build = built != item / plan.row_tiles;
      built = item / plan.row_tiles;
      if (plan.batch_images > 1) {
        const int64_t images = std::min(plan.batch_images, d.N - n);
        batched_gemm(in, w, b, d, p, plan.method == ConvMethod::Pointwise, plan.product, n, images, g, oc0, rows,
                     build, col, o);
        continue;
      }
      const int64_t c0 = ct * plan.tile_cols, cols = std::min(plan.tile_cols, d.OHW - c0);
      const float* in_g = in + (n * d.C + g * d.Cg) * d.H * d.W;  // (C/groups, H, W)
      // B (K, cols): the input plane itself for pointwise (ld H*W), else the im2col tile (ld cols).
      const float* B = col;
      int64_t ldb = cols;
      if (plan.method == ConvMethod::Pointwise) {
        B = in_g + c0, ldb = d.H * d.W;
      } else if (build) {
        im2col_tile(in_g, d, p, c0, cols, cols, col);
      }
      float* dst = o + (n * d.O + oc0) * d.OHW + c0;  // (rows, cols), ld OH*OW
      gemm(plan.product, w, oc0, rows, cols, d.K, B, ldb, dst, d.OHW);
      bias_activation(dst, rows, cols, d.OHW, b ? b + oc0 : nullptr, p.activation);
    }
  });
}

namespace {
class Conv2dKernel : public Kernel {
 public:
  Conv2dKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights)
      : input_(input), weight_(weights[0]), bias_(weights.size() > 1 ? weights[1] : nullptr) {
    auto [sh, sw] = pair_attr(node, "stride", 1);
    auto [dh, dw] = pair_attr(node, "dilation", 1);
    auto pad = padding_attr(node, "padding");
    p_.stride_h = sh, p_.stride_w = sw, p_.dilation_h = dh, p_.dilation_w = dw;
    p_.pad_top = pad[0], p_.pad_left = pad[1], p_.pad_bottom = pad[2], p_.pad_right = pad[3];
    p_.groups = int_attr(node, "groups", 1);
    p_.activation = activation_attr(node);
    weight_shape_ = weight_->shape();
    if (bias_ && bias_->shape() != Shape{weight_shape_.at(0)})
      throw Error("bias shape " + shape_to_string(bias_->shape()) + " does not match " +
                  std::to_string(weight_shape_.at(0)) + " output channels");
    output_shape_ = conv2d_output_shape(input, weight_shape_, p_);
    // "input_scale" makes the node an int8 convolution (engine/ops/conv2d_int8.h).
    // Weights the fast paths lay out once, for the plans of every input size when the node is a
    // graph's (engine/prepared_weights.h), rather than on every run.
    auto prepared = [&](const std::string& key, auto make) {
      return node.prepared ? node.prepared->get<typename decltype(make())::element_type>(key, make) : make();
    };
    if (const std::optional<float> input_scale = input_scale_attr(node)) {
      const QgemmKernel& kernel = qgemm_kernel();
      auto packed = prepared(std::string("int8 ") + kernel.name, [&] {
        return Conv2dInt8::pack_weights(*weight_, bias_, p_, *input_scale, kernel);
      });
      int8_ = std::make_unique<Conv2dInt8>(input_, weight_shape_, p_, std::move(packed));
      return;
    }
    path_ = choose_conv_path(input_, weight_shape_, p_);
    if (path_.method == ConvMethod::Winograd)
      winograd_weights_ = prepared("winograd", [&] { return std::make_shared<const WinogradWeights>(*weight_); });
    if (path_.method == ConvMethod::Direct) {
      const DirectConvKernel& kernel = direct_conv_kernel(active_isa());
      direct_weights_ = prepared(std::string("direct ") + isa_name(kernel.isa),
                                 [&] { return std::make_shared<const DirectConvWeights>(kernel, *weight_); });
    }
  }
  std::size_t workspace_floats(int threads) const override {
    if (int8_) return int8_->workspace_floats(threads);
    if (winograd_weights_) return winograd_workspace_floats(input_, weight_shape_, p_, threads);
    if (direct_weights_)
      return conv2d_direct_workspace_floats(input_, weight_shape_, p_, direct_weights_->kernel(), threads);
    return conv2d_workspace_floats(input_, weight_shape_, p_, threads, path_);
  }
  std::string method() const override { return int8_ ? int8_->method() : path_.name(); }
  double macs() const override {
    return static_cast<double>(shape_numel(output_shape_)) *
           static_cast<double>(weight_shape_[1] * weight_shape_[2] * weight_shape_[3]);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float* ws, int threads) const override {
    if (int8_) {
      int8_->run(*inputs[0], out, ws, threads);
    } else if (winograd_weights_) {
      conv2d_winograd(*inputs[0], *winograd_weights_, bias_, p_, out, ws, threads);
    } else if (direct_weights_) {
      conv2d_direct(*inputs[0], *direct_weights_, bias_, p_, out, ws, threads);
    } else {
      conv2d(*inputs[0], *weight_, bias_, p_, out, ws, threads, path_);
    }
  }

 private:
  Conv2dParams p_;
  Shape input_, weight_shape_;
  const Tensor* weight_;
  const Tensor* bias_;
  std::unique_ptr<Conv2dInt8> int8_;  // set ("input_scale"): the int8 path runs this convolution
  std::shared_ptr<const WinogradWeights> winograd_weights_;  // set when the Winograd path runs it
  std::shared_ptr<const DirectConvWeights> direct_weights_;    // set when the direct path runs it
  ConvPath path_;
};
}  // namespace

OpDef conv2d_op() {
  return unary_op("conv2d", [](const Node& n, const std::vector<Shape>& s,
                               const std::vector<const Tensor*>& w) -> std::unique_ptr<Kernel> {
    if (s[0].size() != 4) throw Error("input must have rank 4, found " + shape_to_string(s[0]));
    return std::make_unique<Conv2dKernel>(n, s[0], w);
  }, 1, 2);
}

}  // namespace spdinfer

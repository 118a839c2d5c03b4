// Pooling. The reference visits every output and loops over its window. The
// fast form uses that max and sum are separable over a rectangle: a
// horizontal pass reduces each input row to Wo values, then a vertical pass
// reduces those rows, contiguous and vectorised, to the output: about 2k
// operations per output instead of k * k (SPPF's k5: 10 instead of 25).
#include "engine/ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

// NaN-propagating max as PyTorch's kernels do it: once a NaN is seen it stays.
inline float nan_max(float m, float v) { return (v > m || std::isnan(v)) ? v : m; }

// Shared validation of max_pool2d and avg_pool2d.
Shape pool2d_output_shape(const char* op, const Shape& in, const Pool2dParams& p) {
  const std::string name = op;
  if (in.size() != 4) throw Error(name + ": expected an (N, C, H, W) input, got " + shape_to_string(in));
  if (p.kernel < 1 || p.stride < 1)
    throw Error(name + ": kernel and stride must be at least 1, got kernel " + std::to_string(p.kernel) +
                ", stride " + std::to_string(p.stride));
  if (p.padding < 0 || p.padding > p.kernel / 2)
    throw Error(name + ": padding must be between 0 and kernel / 2 = " + std::to_string(p.kernel / 2) +
                ", got " + std::to_string(p.padding));
  const int64_t h = in[2], w = in[3], span = p.kernel - 2 * int64_t{p.padding};
  if (h < 1 || w < 1 || h < span || w < span)
    throw Error(name + ": input " + shape_to_string(in) + " is too small for kernel " +
                std::to_string(p.kernel) + " with padding " + std::to_string(p.padding) +
                " (H and W must be at least " + std::to_string(std::max<int64_t>(span, 1)) + ")");
  Shape out = {in[0], in[1], (h - span) / p.stride + 1, (w - span) / p.stride + 1};
  shape_numel(out);  // throws on a negative N or C
  return out;
}

void check_output(const char* op, const Shape& expected, const Tensor& output) {
  if (output.shape() != expected)
    throw Error(std::string(op) + ": output shape " + shape_to_string(output.shape()) + ", expected " +
                shape_to_string(expected));
}

// The windows along one axis: output o reads input positions [lo[o], hi[o]),
// the kernel window clamped to the input (never empty, thanks to padding <= kernel / 2).
// `padded_size` is the window clamped to the padded input instead, PyTorch's
// count_include_pad divisor, which in floor mode is always the kernel.
struct AxisWindows {
  std::vector<int64_t> lo, hi, padded_size;
  int64_t interior_begin = 0, interior_end = 0;  // outputs whose window is wholly inside the input
};

AxisWindows axis_windows(int64_t in_len, int64_t out_len, const Pool2dParams& p) {
  AxisWindows a;
  a.lo.resize(out_len);
  a.hi.resize(out_len);
  a.padded_size.resize(out_len);
  a.interior_begin = out_len;
  for (int64_t o = 0; o < out_len; ++o) {
    const int64_t start = o * p.stride - p.padding, end = start + p.kernel;
    a.lo[o] = std::max<int64_t>(start, 0);
    a.hi[o] = std::min(end, in_len);
    a.padded_size[o] = std::min(end, in_len + p.padding) - start;
    if (start >= 0 && end <= in_len) {
      a.interior_begin = std::min(a.interior_begin, o);
      a.interior_end = o + 1;
    }
  }
  if (a.interior_begin > a.interior_end) a.interior_begin = a.interior_end = 0;
  return a;
}

// dst[i] = combine of src[i * stride + kx] over the kernel taps kx, for i < n.
// kStride 1 makes the stride a constant: SPPF's k5 s1 then sweeps contiguous,
// vectorised rows; 0 reads the stride from p.
template <int kStride, typename Combine>
void interior_taps(const float* __restrict src, const Pool2dParams& p, int64_t n, float* __restrict dst,
                   Combine combine) {
  const int64_t s = kStride > 0 ? kStride : p.stride;
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
  for (int kx = 1; kx < p.kernel; ++kx)
    for (int64_t i = 0; i < n; ++i) dst[i] = combine(dst[i], src[i * s + kx]);
}

// One plane: in (H, W) -> out (Ho, Wo), each output the `combine` of its
// clamped window. tmp holds H x Wo floats.
template <typename Combine>
void reduce_plane(const float* in, int64_t H, int64_t W, const AxisWindows& wy, const AxisWindows& wx,
                  const Pool2dParams& p, float* tmp, float* out, Combine combine) {
  const int64_t Ho = static_cast<int64_t>(wy.lo.size()), Wo = static_cast<int64_t>(wx.lo.size());
  // Horizontal: row (W) -> tmp row (Wo).
  for (int64_t y = 0; y < H; ++y) {
    const float* row = in + y * W;
    float* t = tmp + y * Wo;
    // Border outputs, window clamped to the row.
    auto clamped = [&](int64_t ox) {
      float r = row[wx.lo[ox]];
      for (int64_t x = wx.lo[ox] + 1; x < wx.hi[ox]; ++x) r = combine(r, row[x]);
      t[ox] = r;
    };
    for (int64_t ox = 0; ox < wx.interior_begin; ++ox) clamped(ox);
    for (int64_t ox = wx.interior_end; ox < Wo; ++ox) clamped(ox);
    // Interior, all taps in range, one sweep per tap.
    const int64_t n = wx.interior_end - wx.interior_begin;
    if (n > 0) {
      const float* src = row + wx.interior_begin * p.stride - p.padding;
      if (p.stride == 1)
        interior_taps<1>(src, p, n, t + wx.interior_begin, combine);
      else
        interior_taps<0>(src, p, n, t + wx.interior_begin, combine);
    }
  }
  // Vertical: rows lo..hi of tmp (each Wo) -> output row (Wo).
  for (int64_t oy = 0; oy < Ho; ++oy) {
    float* o = out + oy * Wo;
    std::copy(tmp + wy.lo[oy] * Wo, tmp + (wy.lo[oy] + 1) * Wo, o);
    for (int64_t y = wy.lo[oy] + 1; y < wy.hi[oy]; ++y) {
      const float* t = tmp + y * Wo;
      for (int64_t ox = 0; ox < Wo; ++ox) o[ox] = combine(o[ox], t[ox]);
    }
  }
}

// Runs reduce_plane over every (n, c) plane, the planes split into one
// contiguous run per thread so each run has its own scratch rows, allocated
// here, outside the parallel region. `finish(out_plane, wy, wx)` follows each
// plane while it is in cache.
template <typename Combine, typename Finish>
void pool2d_fast(const Tensor& input, const Pool2dParams& p, Tensor& output, int threads, Combine combine,
                 Finish finish) {
  const int64_t H = input.dim(2), W = input.dim(3), Ho = output.dim(2), Wo = output.dim(3);
  const int64_t planes = input.dim(0) * input.dim(1);
  if (planes == 0) return;
  const AxisWindows wy = axis_windows(H, Ho, p), wx = axis_windows(W, Wo, p);
  const int64_t runs = std::min<int64_t>(std::max(threads, 1), planes);
  std::vector<float> scratch(static_cast<std::size_t>(runs * H * Wo));  // (runs, H, Wo)
  const float* in = input.data();
  float* out = output.data();
  parallel_for(runs, threads, [&](int64_t r) {
    float* tmp = scratch.data() + r * H * Wo;
    for (int64_t plane = planes * r / runs; plane < planes * (r + 1) / runs; ++plane) {
      float* o = out + plane * Ho * Wo;
      reduce_plane(in + plane * H * W, H, W, wy, wx, p, tmp, o, combine);
      finish(o, wy, wx);
    }
  });
}

// The reference loop nest: input (N, C, H, W) -> output (N, C, Ho, Wo), each
// output = window(plane, y0, x0) where plane is the (n, c) input plane and
// (y0, x0) the window's top-left corner in unpadded coordinates (may be negative).
template <typename Window>
void for_each_window(const Tensor& input, const Pool2dParams& p, Tensor& output, Window window) {
  const int64_t H = input.dim(2), W = input.dim(3), Ho = output.dim(2), Wo = output.dim(3);
  for (int64_t plane = 0; plane < input.dim(0) * input.dim(1); ++plane)
    for (int64_t oy = 0; oy < Ho; ++oy)
      for (int64_t ox = 0; ox < Wo; ++ox)
        output[(plane * Ho + oy) * Wo + ox] =
            window(input.data() + plane * H * W, oy * p.stride - p.padding, ox * p.stride - p.padding);
}

}  // namespace

Shape max_pool2d_output_shape(const Shape& input, const Pool2dParams& params) {
  return pool2d_output_shape("max_pool2d", input, params);
}

Shape avg_pool2d_output_shape(const Shape& input, const Pool2dParams& params) {
  return pool2d_output_shape("avg_pool2d", input, params);
}

void max_pool2d_reference(const Tensor& input, const Pool2dParams& p, Tensor& output) {
  check_output("max_pool2d", max_pool2d_output_shape(input.shape(), p), output);
  const int64_t H = input.dim(2), W = input.dim(3);
  for_each_window(input, p, output, [&](const float* plane, int64_t y0, int64_t x0) {
    float m = -std::numeric_limits<float>::infinity();  // what the padding holds
    for (int64_t y = y0; y < y0 + p.kernel; ++y)
      for (int64_t x = x0; x < x0 + p.kernel; ++x)
        if (y >= 0 && y < H && x >= 0 && x < W) m = nan_max(m, plane[y * W + x]);
    return m;
  });
}

void max_pool2d(const Tensor& input, const Pool2dParams& params, Tensor& output, int threads) {
  check_output("max_pool2d", max_pool2d_output_shape(input.shape(), params), output);
  pool2d_fast(
      input, params, output, threads, [](float m, float v) { return nan_max(m, v); },
      [](float*, const AxisWindows&, const AxisWindows&) {});
}

void avg_pool2d_reference(const Tensor& input, const Pool2dParams& p, Tensor& output) {
  check_output("avg_pool2d", avg_pool2d_output_shape(input.shape(), p), output);
  const int64_t H = input.dim(2), W = input.dim(3);
  // PyTorch's AvgPool2d loop: the padded divisor counts the window clamped to the padded input.
  for_each_window(input, p, output, [&](const float* plane, int64_t y0, int64_t x0) {
    const int64_t y1 = std::min(y0 + p.kernel, H + p.padding), x1 = std::min(x0 + p.kernel, W + p.padding);
    float sum = 0.0f;
    int64_t count = 0;
    for (int64_t y = std::max<int64_t>(y0, 0); y < std::min(y1, H); ++y)
      for (int64_t x = std::max<int64_t>(x0, 0); x < std::min(x1, W); ++x) {
        sum += plane[y * W + x];
        ++count;
      }
    return sum / static_cast<float>(p.count_include_pad ? (y1 - y0) * (x1 - x0) : count);
  });
}

void avg_pool2d(const Tensor& input, const Pool2dParams& params, Tensor& output, int threads) {
  check_output("avg_pool2d", avg_pool2d_output_shape(input.shape(), params), output);
  const bool include_pad = params.count_include_pad;
  const int64_t Wo = output.dim(3);
  pool2d_fast(
      input, params, output, threads, [](float a, float b) { return a + b; },
      [&](float* o, const AxisWindows& wy, const AxisWindows& wx) {
        // Both divisors are products of a per-row and a per-column count.
        for (int64_t oy = 0; oy < static_cast<int64_t>(wy.lo.size()); ++oy) {
          const int64_t dy = include_pad ? wy.padded_size[oy] : wy.hi[oy] - wy.lo[oy];
          for (int64_t ox = 0; ox < Wo; ++ox) {
            const int64_t dx = include_pad ? wx.padded_size[ox] : wx.hi[ox] - wx.lo[ox];
            o[oy * Wo + ox] /= static_cast<float>(dy * dx);
          }
        }
      });
}

Shape adaptive_avg_pool2d_output_shape(const Shape& input) {
  if (input.size() != 4 || input[2] < 1 || input[3] < 1)
    throw Error("adaptive_avg_pool2d: expected an (N, C, H, W) input with H, W >= 1, got " +
                shape_to_string(input));
  return {input[0], input[1], 1, 1};
}

void adaptive_avg_pool2d_reference(const Tensor& input, Tensor& output) {
  check_output("adaptive_avg_pool2d", adaptive_avg_pool2d_output_shape(input.shape()), output);
  const int64_t hw = input.dim(2) * input.dim(3);
  // input (N, C, H, W) -> output (N, C, 1, 1)
  for (int64_t plane = 0; plane < input.dim(0) * input.dim(1); ++plane) {
    double sum = 0.0;
    for (int64_t i = 0; i < hw; ++i) sum += input[plane * hw + i];
    output[plane] = static_cast<float>(sum / static_cast<double>(hw));
  }
}

void adaptive_avg_pool2d(const Tensor& input, Tensor& output, int threads) {
  check_output("adaptive_avg_pool2d", adaptive_avg_pool2d_output_shape(input.shape()), output);
  const int64_t hw = input.dim(2) * input.dim(3);
  const float* in = input.data();
  float* out = output.data();
  parallel_for(input.dim(0) * input.dim(1), threads, [&](int64_t plane) {
    // Eight independent partial sums: the compiler keeps them in one vector
    // register, where a single float accumulator would serialise the adds.
    constexpr int64_t kLanes = 8;
    const float* p = in + plane * hw;
    float lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= hw; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) lanes[l] += p[i + l];
    float sum = 0.0f;
    for (; i < hw; ++i) sum += p[i];
    for (float l : lanes) sum += l;
    out[plane] = sum / static_cast<float>(hw);
  });
}

namespace {
Pool2dParams pool_params_from(const Node& node) {
  Pool2dParams p;
  p.kernel = int_attr(node, "kernel_size", 0);
  p.stride = int_attr(node, "stride", p.kernel);
  p.padding = int_attr(node, "padding", 0);
  return p;
}

class MaxPoolKernel : public Kernel {
 public:
  MaxPoolKernel(const Node& node, const Shape& in) : p_(pool_params_from(node)) {
    output_shape_ = max_pool2d_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    max_pool2d(*inputs[0], p_, out, threads);
  }

 private:
  Pool2dParams p_;
};

class AvgPoolKernel : public Kernel {
 public:
  AvgPoolKernel(const Node& node, const Shape& in) : p_(pool_params_from(node)) {
    output_shape_ = avg_pool2d_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    avg_pool2d(*inputs[0], p_, out, threads);
  }

 private:
  Pool2dParams p_;
};

class GlobalAvgPoolKernel : public Kernel {
 public:
  GlobalAvgPoolKernel(const Node& node, const Shape& in) {
    if (int_attr(node, "output_size", 1) != 1) throw Error("only output_size 1 is supported");
    output_shape_ = adaptive_avg_pool2d_output_shape(in);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    adaptive_avg_pool2d(*inputs[0], out, threads);
  }
};
}  // namespace

OpDef max_pool2d_op() { return unary_op("max_pool2d", prepare_kernel<MaxPoolKernel>); }
OpDef avg_pool2d_op() { return unary_op("avg_pool2d", prepare_kernel<AvgPoolKernel>); }
OpDef adaptive_avg_pool2d_op() { return unary_op("adaptive_avg_pool2d", prepare_kernel<GlobalAvgPoolKernel>); }

}  // namespace spdinfer

// conv2d in int8: the quantisation rules, the attribute, and the reference (conv2d_int8.h).
#include "engine/ops/conv2d_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/int_math.h"
#include "engine/kernels/vector_clones.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

// Target size of one thread's im2col tile (bytes, K x columns): a quarter of a 1 MiB L2, with its
// packed copy and the tile's int32 sums beside it.
constexpr int64_t kTileBytes = 1 << 18;
// Narrower tiles make the GEMM stream the weights from L2 too often for too little work.
constexpr int64_t kMinTileCols = 96;
// Floats quantised per parallel chunk of the input.
constexpr int64_t kQuantizeChunk = 1 << 15;

int64_t align64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

// v clamped to [-127, 127] (NaN -> -127, as x86's maxps(v, -127) gives), then rounded to the
// nearest integer, ties to even.
int quantize_clamped(float v) {
  v = v > -127.0f ? v : -127.0f;
  v = v < 127.0f ? v : 127.0f;
  return static_cast<int>(std::nearbyint(v));
}

// x quantised and shifted to the GEMM's unsigned B: q + 128 (quantize_clamped's rule, which this
// loop repeats so that the compiler vectorises it; the tests compare the two).
SPDINFER_VECTOR_CLONES
void quantize_to_u8(const float* x, int64_t n, float input_scale, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / input_scale;
    v = v > -127.0f ? v : -127.0f;
    v = v < 127.0f ? v : 127.0f;
    out[i] = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + 128);
  }
}

// The epilogue of a row of sums: float(acc) * multiplier + bias, the reference's operations.
SPDINFER_VECTOR_CLONES
void dequantize_row(const int32_t* acc, int64_t n, float multiplier, float bias, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(acc[i]) * multiplier + bias;
}

// Output positions x whose input position x * stride + offset lies in [0, size): [first, last).
struct Span {
  int64_t first, last;
};
Span inside(int64_t count, int64_t stride, int64_t offset, int64_t size) {
  const int64_t first = offset >= 0 ? 0 : ceil_div(-offset, stride);
  const int64_t last = size - offset <= 0 ? 0 : ceil_div(size - offset, stride);
  return {std::min(first, count), std::max(std::min(first, count), std::min(last, count))};
}

// Columns [c0, c0 + cols) of the im2col matrix of one image and group, from its quantised planes
// in (Cg, H, W) into col (Cg * kH * kW rows of `cols` bytes); padding is the zero point 128.
void im2col_u8(const uint8_t* in, int64_t Cg, int64_t H, int64_t W, int64_t OW, int64_t kH, int64_t kW,
               const Conv2dParams& p, int64_t c0, int64_t cols, uint8_t* col) {
  const int64_t sh = p.stride_h, sw = p.stride_w;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t ky = 0; ky < kH; ++ky)
      for (int64_t kx = 0; kx < kW; ++kx, col += cols) {
        const int64_t yoff = ky * p.dilation_h - p.pad_top, xoff = kx * p.dilation_w - p.pad_left;
        const Span xs = inside(OW, sw, xoff, W);
        // One output row at a time: j is the tile column of output position (oy, ox).
        for (int64_t j = 0, oy = c0 / OW, ox = c0 % OW; j < cols; ++oy, ox = 0) {
          const int64_t end = std::min(OW, ox + cols - j);
          uint8_t* dst = col + j - ox;  // dst[x]: output column x of this row, for x in [ox, end)
          j += end - ox;
          const int64_t iy = oy * sh + yoff;
          if (iy < 0 || iy >= H) {
            std::memset(dst + ox, 128, static_cast<std::size_t>(end - ox));
            continue;
          }
          const uint8_t* src = in + (c * H + iy) * W;
          const int64_t a = std::clamp(xs.first, ox, end), b = std::clamp(xs.last, ox, end);
          std::memset(dst + ox, 128, static_cast<std::size_t>(a - ox));
          if (sw == 1) {
            std::memcpy(dst + a, src + a + xoff, static_cast<std::size_t>(b - a));
          } else {
            for (int64_t x = a; x < b; ++x) dst[x] = src[x * sw + xoff];
          }
          std::memset(dst + b, 128, static_cast<std::size_t>(end - b));
        }
      }
}

}  // namespace

int8_t quantize_input_value(float x, float input_scale) {
  return static_cast<int8_t>(quantize_clamped(x / input_scale));
}

std::optional<float> input_scale_attr(const Node& node) {
  auto it = node.attrs.find("input_scale");
  if (it == node.attrs.end()) return std::nullopt;
  if (!it->is_number())
    throw Error("attribute 'input_scale' must be a finite number > 0, found " + it->dump());
  const double value = it->get<double>();
  const float scale = static_cast<float>(value);
  if (!std::isfinite(value) || !std::isfinite(scale) || !(scale > 0.0f))
    throw Error("attribute 'input_scale' must be a finite number > 0 (as a float), found " + it->dump());
  return scale;
}

Int8Weights quantize_conv_weights(const Tensor& weight) {
  if (weight.shape().size() != 4)
    throw Error("int8 conv2d: weight must be rank 4 (O, C/groups, kH, kW), found " +
                shape_to_string(weight.shape()));
  Int8Weights q;
  q.rows = weight.shape()[0];
  q.cols = weight.shape()[1] * weight.shape()[2] * weight.shape()[3];
  q.q.resize(static_cast<std::size_t>(q.rows * q.cols));
  q.scale.resize(static_cast<std::size_t>(q.rows));
  const float* w = weight.data();
  for (int64_t o = 0; o < q.rows; ++o) {
    const float* row = w + o * q.cols;
    float max_abs = 0.0f;
    for (int64_t k = 0; k < q.cols; ++k) max_abs = std::max(max_abs, std::fabs(row[k]));
    const float s = max_abs > 0.0f ? max_abs / 127.0f : 1.0f;
    q.scale[o] = s;
    for (int64_t k = 0; k < q.cols; ++k) q.q[o * q.cols + k] = static_cast<int8_t>(quantize_clamped(row[k] / s));
  }
  return q;
}

void conv2d_int8_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& p,
                           float input_scale, Tensor& out) {
  const Shape out_shape = conv2d_output_shape(input.shape(), weight.shape(), p);
  if (out.shape() != out_shape)
    throw Error("int8 conv2d: output tensor must have shape " + shape_to_string(out_shape) + ", found " +
                shape_to_string(out.shape()));
  if (bias && bias->shape() != Shape{weight.shape()[0]})
    throw Error("int8 conv2d: bias must have shape (" + std::to_string(weight.shape()[0]) + "), found " +
                shape_to_string(bias->shape()));
  if (!(input_scale > 0.0f) || !std::isfinite(input_scale))
    throw Error("int8 conv2d: input_scale must be a finite number > 0, found " + std::to_string(input_scale));
  const Int8Weights w = quantize_conv_weights(weight);
  const int64_t N = input.shape()[0], C = input.shape()[1], H = input.shape()[2], W = input.shape()[3];
  const int64_t O = out_shape[1], OH = out_shape[2], OW = out_shape[3];
  const int64_t kH = weight.shape()[2], kW = weight.shape()[3];
  const int64_t Og = O / p.groups, Cg = C / p.groups;
  if (w.cols > kInt8MaxDepth)
    throw Error("int8 conv2d: depth C/groups*kH*kW = " + std::to_string(w.cols) + " exceeds " +
                std::to_string(kInt8MaxDepth) + ", where int32 sums could overflow");
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o) {
      const int64_t g = o / Og;
      const float multiplier = input_scale * w.scale[o];
      const float b = bias ? (*bias)[o] : 0.0f;
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int32_t acc = 0;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ky = 0; ky < kH; ++ky) {
              const int64_t iy = oy * p.stride_h - p.pad_top + ky * p.dilation_h;
              if (iy < 0 || iy >= H) continue;
              for (int64_t kx = 0; kx < kW; ++kx) {
                const int64_t ix = ox * p.stride_w - p.pad_left + kx * p.dilation_w;
                if (ix < 0 || ix >= W) continue;
                const int32_t qx = quantize_input_value(input[((n * C + g * Cg + ci) * H + iy) * W + ix], input_scale);
                acc += qx * w.q[o * w.cols + (ci * kH + ky) * kW + kx];
              }
            }
          out[((n * O + o) * OH + oy) * OW + ox] = static_cast<float>(acc) * multiplier + b;
        }
    }
  apply_activation(out.data(), out.numel(), p.activation);
}

Conv2dInt8::Conv2dInt8(const Shape& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
                       float input_scale, const QgemmKernel& kernel)
    : p_(params), input_(input), input_scale_(input_scale), kernel_(&kernel) {
  output_shape_ = conv2d_output_shape(input, weight.shape(), params);
  if (bias && bias->shape() != Shape{weight.shape()[0]})
    throw Error("int8 conv2d: bias must have shape (" + std::to_string(weight.shape()[0]) + "), found " +
                shape_to_string(bias->shape()));
  if (!(input_scale > 0.0f) || !std::isfinite(input_scale))
    throw Error("int8 conv2d: input_scale must be a finite number > 0, found " + std::to_string(input_scale));
  N_ = input[0], C_ = input[1], H_ = input[2], W_ = input[3];
  O_ = weight.shape()[0], kH_ = weight.shape()[2], kW_ = weight.shape()[3];
  OH_ = output_shape_[2], OW_ = output_shape_[3];
  groups_ = params.groups, Cg_ = C_ / groups_, Og_ = O_ / groups_, K_ = Cg_ * kH_ * kW_;
  if (K_ > kInt8MaxDepth)
    throw Error("int8 conv2d: depth C/groups*kH*kW = " + std::to_string(K_) + " exceeds " +
                std::to_string(kInt8MaxDepth) + ", where int32 sums could overflow");
  pointwise_ = kH_ == 1 && kW_ == 1 && params.stride_h == 1 && params.stride_w == 1 && params.pad_top == 0 &&
               params.pad_left == 0 && params.pad_bottom == 0 && params.pad_right == 0;
  const Int8Weights q = quantize_conv_weights(weight);
  for (int64_t g = 0; g < groups_; ++g) weights_.emplace_back(kernel, q.q.data() + g * Og_ * K_, Og_, K_, K_);
  multiplier_.resize(static_cast<std::size_t>(O_));
  bias_.assign(static_cast<std::size_t>(O_), 0.0f);
  for (int64_t o = 0; o < O_; ++o) {
    multiplier_[o] = input_scale * q.scale[o];
    if (bias) bias_[o] = (*bias)[o];
  }
}

Conv2dInt8::Plan Conv2dInt8::plan(int threads) const {
  threads = std::max(threads, 1);
  const int64_t OHW = OH_ * OW_, planes = N_ * groups_;
  Plan plan;
  int64_t tile = std::max(kMinTileCols, kTileBytes / std::max<int64_t>(K_, 1));
  tile = std::max<int64_t>(kernel_->nr, tile / kernel_->nr * kernel_->nr);
  int64_t pieces = ceil_div(OHW, tile);
  // Pieces per plane so that planes * pieces is a multiple of threads: every thread gets the
  // same amount of work (the bits do not depend on the tiles: the sums are exact).
  if (threads > 1)
    while (planes * pieces % threads != 0 && pieces < OHW) ++pieces;
  plan.tile_cols = ceil_div(OHW, std::max<int64_t>(pieces, 1));
  plan.col_tiles = ceil_div(OHW, plan.tile_cols);
  plan.slots = std::max<int64_t>(1, std::min<int64_t>(threads, planes * plan.col_tiles));
  return plan;
}

int64_t Conv2dInt8::input_bytes() const { return align64(N_ * C_ * H_ * W_); }
int64_t Conv2dInt8::im2col_bytes(const Plan& plan) const { return pointwise_ ? 0 : align64(K_ * plan.tile_cols); }
int64_t Conv2dInt8::packed_bytes(const Plan& plan) const {
  return align64(static_cast<int64_t>(qgemm_packed_b_bytes(*kernel_, K_, plan.tile_cols)));
}
int64_t Conv2dInt8::slot_bytes(const Plan& plan) const {
  return im2col_bytes(plan) + packed_bytes(plan) + align64(Og_ * plan.tile_cols * 4);
}

std::size_t Conv2dInt8::workspace_floats(int threads) const {
  const Plan plan = this->plan(threads);
  return static_cast<std::size_t>(ceil_div(input_bytes() + plan.slots * slot_bytes(plan), sizeof(float)));
}

std::string Conv2dInt8::method() const {
  return std::string("int8 ") + (pointwise_ ? "1x1 " : "im2col ") + kernel_->name;
}

void Conv2dInt8::run(const Tensor& input, Tensor& out, float* workspace, int threads) const {
  if (input.shape() != input_)
    throw Error("int8 conv2d: prepared for input " + shape_to_string(input_) + ", given " +
                shape_to_string(input.shape()));
  if (out.shape() != output_shape_)
    throw Error("int8 conv2d: output tensor must have shape " + shape_to_string(output_shape_) + ", found " +
                shape_to_string(out.shape()));
  if (!workspace) throw Error("int8 conv2d: needs a workspace of " + std::to_string(workspace_floats(threads)) + " floats, got none");
  const Plan plan = this->plan(threads);
  const int64_t OHW = OH_ * OW_, HW = H_ * W_;
  uint8_t* bytes = reinterpret_cast<uint8_t*>(workspace);
  uint8_t* quantized = bytes;
  const float* in = input.data();
  float* o = out.data();

  // The input quantised once (not once per tap, as quantising inside im2col would).
  const int64_t total = N_ * C_ * HW;
  parallel_for(ceil_div(total, kQuantizeChunk), threads, [&](int64_t chunk) {
    const int64_t begin = chunk * kQuantizeChunk;
    quantize_to_u8(in + begin, std::min(kQuantizeChunk, total - begin), input_scale_, quantized + begin);
  });

  const int64_t items = N_ * groups_ * plan.col_tiles;
  parallel_for(plan.slots, threads, [&](int64_t slot) {
    uint8_t* col = bytes + input_bytes() + slot * slot_bytes(plan);
    uint8_t* packed = col + im2col_bytes(plan);
    int32_t* sums = reinterpret_cast<int32_t*>(packed + packed_bytes(plan));
    for (int64_t item = slot * items / plan.slots; item < (slot + 1) * items / plan.slots; ++item) {
      const int64_t ct = item % plan.col_tiles, plane = item / plan.col_tiles;
      const int64_t n = plane / groups_, g = plane % groups_;
      const int64_t c0 = ct * plan.tile_cols, cols = std::min(plan.tile_cols, OHW - c0);
      const uint8_t* q_g = quantized + (n * C_ + g * Cg_) * HW;  // (C/groups, H, W)
      const uint8_t* B = q_g + c0;
      int64_t ldb = HW;
      if (!pointwise_) {
        im2col_u8(q_g, Cg_, H_, W_, OW_, kH_, kW_, p_, c0, cols, col);
        B = col, ldb = cols;
      }
      qgemm_pack_b(*kernel_, K_, cols, B, ldb, packed);
      qgemm_packed(weights_[g], 0, Og_, cols, packed, sums, cols);
      // The epilogue while the tile's sums are in cache.
      for (int64_t r = 0; r < Og_; ++r) {
        const int64_t oc = g * Og_ + r;
        float* dst = o + (n * O_ + oc) * OHW + c0;
        dequantize_row(sums + r * cols, cols, multiplier_[oc], bias_[oc], dst);
        apply_activation(dst, cols, p_.activation);
      }
    }
  });
}

}  // namespace spdinfer

// conv2d in int8: the quantisation rules, the attribute, and the reference (conv2d_int8.h).
#include "engine/ops/conv2d_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <tmmintrin.h>
#endif

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
// Tiles split for threads keep at least this many columns: the weights stream from L2 once per
// tile, and the kernels' column panels (48 wide) want filling.
constexpr int64_t kMinSplitCols = 64;

int64_t align64(int64_t bytes) { return (bytes + 63) / 64 * 64; }

// v clamped to [-127, 127] (NaN -> -127, as x86's maxps(v, -127) gives), then rounded to the
// nearest integer, ties to even.
int quantize_clamped(float v) {
  v = v > -127.0f ? v : -127.0f;
  v = v < 127.0f ? v : 127.0f;
  return static_cast<int>(std::nearbyint(v));
}

// The epilogue of a row of sums: float(acc) * multiplier + bias, the reference's operations.
SPDINFER_VECTOR_CLONES
void dequantize_row(const int32_t* acc, int64_t n, float multiplier, float bias, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(acc[i]) * multiplier + bias;
}

// The quantised input of one image and group with its zero padding made real: planes of
// (H + pad_top + pad_bottom) x (W + pad_left + pad_right) bytes, the border 128 (q = 0). Tap
// (ky, kx) of output (oy, ox) is then byte (oy * stride_h + ky * dilation_h, ox * stride_w +
// kx * dilation_w) of its plane, with no bounds to check.
struct PaddedInput {
  const uint8_t* data;
  int64_t height, width;  // of a plane
};

// Where each column of a tile reads in its tap's padded plane, per chunk of 16 columns: the
// offset of column c0 + j (image (c0 + j) / OHW, output position (c0 + j) % OHW) from tap
// (0, 0)'s byte in the first image, or -1 past the tile's columns; and how the chunk's 16 bytes
// of a row of im2col are read:
//   Consecutive: they lie side by side (one output row, stride 1): read as they lie;
//   Shuffle:     all within 32 bytes of the first (a small plane's several output rows, or a
//                stride 2 row): two 16-byte reads and a byte shuffle (pshufb) by `shuffle`'s
//                indices (the first 16 pick from the first read, the next 16 from the second,
//                0x80 = none), instead of 16 single bytes;
//   Gather:      one byte at a time (the rest, and a tile's last, partial chunk).
enum class ChunkRead : uint8_t { Gather, Consecutive, Shuffle };
struct TileColumns {
  int32_t* offset;   // 16 per chunk
  uint8_t* shuffle;  // 32 per chunk
  ChunkRead* read;   // 1 per chunk
};

// Images lie image_bytes apart; offsets grow with the column, so 16 of them 15 apart are
// consecutive.
void map_tile_columns(int64_t OH, int64_t OW, int64_t width, int64_t image_bytes, const Conv2dParams& p, int64_t c0,
                      int64_t cols, const TileColumns& map) {
  int64_t n = c0 / (OH * OW), oy = c0 % (OH * OW) / OW, ox = c0 % OW;
  for (int64_t chunk = 0; chunk < ceil_div(cols, 16); ++chunk) {
    int32_t* offset = map.offset + 16 * chunk;
    for (int64_t i = 0; i < 16; ++i) {
      const bool inside = 16 * chunk + i < cols;
      offset[i] = inside ? static_cast<int32_t>(n * image_bytes + oy * p.stride_h * width + ox * p.stride_w) : -1;
      if (inside && ++ox == OW) {
        ox = 0;
        if (++oy == OH) oy = 0, ++n;
      }
    }
    const int64_t span = offset[15] - offset[0];
    map.read[chunk] = offset[15] < 0 ? ChunkRead::Gather
                      : span == 15   ? ChunkRead::Consecutive
                      : span < 32    ? ChunkRead::Shuffle
                                     : ChunkRead::Gather;
    uint8_t* index = map.shuffle + 32 * chunk;
    for (int i = 0; i < 16; ++i) {
      const int32_t d = offset[15] < 0 ? 0 : offset[i] - offset[0];
      index[i] = d < 16 ? static_cast<uint8_t>(d) : uint8_t{0x80};
      index[16 + i] = d >= 16 ? static_cast<uint8_t>(d - 16) : uint8_t{0x80};
    }
  }
}

#if defined(__x86_64__) || defined(__i386__)
// A Shuffle chunk's 16 bytes of each of 4 rows (from[t] its first byte) into out[t]: reads 32
// bytes from each from[t] (the quantised input has 32 bytes to spare after it). SSSE3, which
// every family but the generic one implies (they need AVX2).
__attribute__((target("ssse3"))) void shuffle_chunk(const uint8_t* const from[4], const uint8_t* index,
                                                    uint8_t (*out)[16]) {
  const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(index));
  const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(index + 16));
  for (int t = 0; t < 4; ++t) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from[t]));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from[t] + 16));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out[t]), _mm_or_si128(_mm_shuffle_epi8(a, lo), _mm_shuffle_epi8(b, hi)));
  }
}
constexpr bool kCanShuffle = true;
#else
void shuffle_chunk(const uint8_t* const[4], const uint8_t*, uint8_t (*)[16]) {}
constexpr bool kCanShuffle = false;
#endif

// Columns [c0, c0 + cols) of the im2col matrix of one image and group (rows (c, ky, kx), column
// j = output position c0 + j), built straight into qgemm's packed layout: 16 columns of 4 rows at
// a time, each row's 16 bytes read where they lie in the padded planes when the chunk's columns
// are consecutive there, else shuffled or gathered first (TileColumns). c0 is a multiple of 16; `map` is the tile's
// (map_tile_columns).
void pack_im2col_tile(const QgemmKernel& kernel, const PaddedInput& in, int64_t Cg, int64_t kH, int64_t kW,
                      const Conv2dParams& p, int64_t cols, const TileColumns& map, uint8_t* packed) {
  const int64_t K = Cg * kH * kW, groups = (K + 3) / 4, plane = in.height * in.width;
  const int64_t padded_cols = ceil_div(cols, kernel.nr) * kernel.nr, chunks = ceil_div(cols, 16);
  const bool shuffles = kCanShuffle && kernel.family != QgemmFamily::Generic;
  alignas(16) uint8_t gathered[4][16];
  for (int64_t g = 0; g < groups; ++g) {
    // The group's 4 rows of im2col: the byte of tap (c, ky, kx) for output (0, 0); null past K.
    const uint8_t* tap[4];
    for (int t = 0; t < 4; ++t) {
      const int64_t k = 4 * g + t;
      if (k >= K) {
        tap[t] = nullptr;
        continue;
      }
      const int64_t c = k / (kH * kW), ky = k / kW % kH, kx = k % kW;
      tap[t] = in.data + c * plane + ky * p.dilation_h * in.width + kx * p.dilation_w;
    }
    for (int64_t chunk = 0; chunk < ceil_div(padded_cols, 16); ++chunk) {
      uint8_t* out = packed + qgemm_packed_b_offset(kernel, K, g, 16 * chunk);
      const int32_t* offset = map.offset + 16 * chunk;
      if (chunk >= chunks) {  // padding past the tile's columns
        std::memset(out, 128, 64);
        continue;
      }
      const uint8_t* const rows[4] = {gathered[0], gathered[1], gathered[2], gathered[3]};
      const ChunkRead read = map.read[chunk];
      if (tap[3] && (read == ChunkRead::Consecutive || (read == ChunkRead::Shuffle && shuffles))) {
        const uint8_t* const first[4] = {tap[0] + offset[0], tap[1] + offset[0], tap[2] + offset[0],
                                         tap[3] + offset[0]};
        if (read == ChunkRead::Consecutive) {
          qgemm_interleave16(first, out);
          continue;
        }
        shuffle_chunk(first, map.shuffle + 32 * chunk, gathered);
        qgemm_interleave16(rows, out);
        continue;
      }
      for (int t = 0; t < 4; ++t)
        for (int64_t i = 0; i < 16; ++i)
          gathered[t][i] = tap[t] && offset[i] >= 0 ? tap[t][offset[i]] : uint8_t{128};
      qgemm_interleave16(rows, out);
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

namespace {

void check_int8_conv_args(const Shape& weight, const Tensor* bias, const Conv2dParams& params, float input_scale) {
  if (bias && bias->shape() != Shape{weight[0]})
    throw Error("int8 conv2d: bias must have shape (" + std::to_string(weight[0]) + "), found " +
                shape_to_string(bias->shape()));
  if (!(input_scale > 0.0f) || !std::isfinite(input_scale))
    throw Error("int8 conv2d: input_scale must be a finite number > 0, found " + std::to_string(input_scale));
  const int64_t K = weight[1] * weight[2] * weight[3];
  if (K > kInt8MaxDepth)
    throw Error("int8 conv2d: depth C/groups*kH*kW = " + std::to_string(K) + " exceeds " +
                std::to_string(kInt8MaxDepth) + ", where int32 sums could overflow");
  if (params.groups <= 0 || weight[0] % params.groups != 0)  // conv2d_output_shape says more
    throw Error("int8 conv2d: output channels " + std::to_string(weight[0]) + " are not divisible by groups " +
                std::to_string(params.groups));
}

// pack_weights after the shapes are checked, so that a mismatch is named as conv2d names it.
std::shared_ptr<const Conv2dInt8::PackedWeights> checked_pack(const Shape& input, const Tensor& weight,
                                                              const Tensor* bias, const Conv2dParams& params,
                                                              float input_scale, const QgemmKernel& kernel) {
  conv2d_output_shape(input, weight.shape(), params);
  return Conv2dInt8::pack_weights(weight, bias, params, input_scale, kernel);
}

}  // namespace

std::shared_ptr<const Conv2dInt8::PackedWeights> Conv2dInt8::pack_weights(const Tensor& weight, const Tensor* bias,
                                                                          const Conv2dParams& params,
                                                                          float input_scale,
                                                                          const QgemmKernel& kernel) {
  if (weight.rank() != 4)
    throw Error("int8 conv2d: weight must be rank 4 (O, C/groups, kH, kW), found shape " +
                shape_to_string(weight.shape()));
  check_int8_conv_args(weight.shape(), bias, params, input_scale);
  const int64_t O = weight.shape()[0], Og = O / params.groups;
  const int64_t K = weight.shape()[1] * weight.shape()[2] * weight.shape()[3];
  auto packed = std::make_shared<PackedWeights>();
  packed->kernel = &kernel;
  packed->input_scale = input_scale;
  const Int8Weights q = quantize_conv_weights(weight);
  for (int64_t g = 0; g < params.groups; ++g) packed->groups.emplace_back(kernel, q.q.data() + g * Og * K, Og, K, K);
  packed->multiplier.resize(static_cast<std::size_t>(O));
  packed->bias.assign(static_cast<std::size_t>(O), 0.0f);
  for (int64_t o = 0; o < O; ++o) {
    packed->multiplier[o] = input_scale * q.scale[o];
    if (bias) packed->bias[o] = (*bias)[o];
  }
  return packed;
}

Conv2dInt8::Conv2dInt8(const Shape& input, const Tensor& weight, const Tensor* bias, const Conv2dParams& params,
                       float input_scale, const QgemmKernel& kernel)
    : Conv2dInt8(input, weight.shape(), params, checked_pack(input, weight, bias, params, input_scale, kernel)) {}

Conv2dInt8::Conv2dInt8(const Shape& input, const Shape& weight_shape, const Conv2dParams& params,
                       std::shared_ptr<const PackedWeights> packed)
    : p_(params), input_(input), packed_(std::move(packed)) {
  output_shape_ = conv2d_output_shape(input, weight_shape, params);
  N_ = input[0], C_ = input[1], H_ = input[2], W_ = input[3];
  O_ = weight_shape[0], kH_ = weight_shape[2], kW_ = weight_shape[3];
  OH_ = output_shape_[2], OW_ = output_shape_[3];
  groups_ = params.groups, Cg_ = C_ / groups_, Og_ = O_ / groups_, K_ = Cg_ * kH_ * kW_;
  // pack_weights checked the weights; these are what it packed them as.
  const bool matches = static_cast<int64_t>(packed_->groups.size()) == groups_ &&
                       static_cast<int64_t>(packed_->multiplier.size()) == O_ &&
                       packed_->groups.front().rows() == Og_ && packed_->groups.front().cols() == K_;
  if (!matches)
    throw Error("int8 conv2d: packed weights of " + std::to_string(packed_->multiplier.size()) + " channels in " +
                std::to_string(packed_->groups.size()) + " groups for weight " + shape_to_string(weight_shape));
  pointwise_ = kH_ == 1 && kW_ == 1 && params.stride_h == 1 && params.stride_w == 1 && params.pad_top == 0 &&
               params.pad_left == 0 && params.pad_bottom == 0 && params.pad_right == 0;
}

Conv2dInt8::Plan Conv2dInt8::plan(int threads) const {
  threads = std::max(threads, 1);
  Plan plan;
  int64_t tile = std::max(kMinTileCols, kTileBytes / std::max<int64_t>(K_, 1));
  tile = std::max<int64_t>(packed_->kernel->nr, tile / packed_->kernel->nr * packed_->kernel->nr);
  // Images side by side when one does not fill a tile; the columns' offsets into the quantised
  // batch are int32 (map_tile_columns).
  plan.batched = N_ > 1 && OH_ * OW_ < tile && input_bytes() < (int64_t{1} << 31);
  plan.planes = plan.batched ? groups_ : N_ * groups_;
  plan.plane_cols = plan.batched ? N_ * OH_ * OW_ : OH_ * OW_;
  const int64_t columns = plan.plane_cols, planes = plan.planes;
  // Tiles of a multiple of 16 columns (pack_im2col_tile's chunks), as many per plane as make
  // planes * tiles a multiple of threads, so that every thread gets the same work, while tiles
  // keep kMinSplitCols columns; else the output channels are split as well (the bits do not
  // depend on the tiles: the sums are exact).
  auto tile_columns = [&](int64_t pieces) {
    plan.tile_cols = ceil_div(ceil_div(columns, pieces), 16) * 16;
    plan.col_tiles = ceil_div(columns, plan.tile_cols);
  };
  const int64_t first = ceil_div(columns, tile);
  tile_columns(first);
  bool balanced = threads == 1 || planes * plan.col_tiles % threads == 0;
  for (int64_t pieces = first + 1; !balanced; ++pieces) {
    tile_columns(pieces);
    if (plan.tile_cols < kMinSplitCols) break;
    balanced = planes * plan.col_tiles % threads == 0;
  }
  if (!balanced) {
    tile_columns(first);
    const int64_t mr = packed_->kernel->mr;
    plan.tile_rows = std::max(mr, ceil_div(ceil_div(Og_, threads), mr) * mr);
  }
  plan.tile_rows = plan.tile_rows > 0 ? std::min(plan.tile_rows, Og_) : Og_;
  plan.row_tiles = ceil_div(Og_, plan.tile_rows);
  plan.slots = std::max<int64_t>(1, std::min<int64_t>(threads, planes * plan.col_tiles * plan.row_tiles));
  return plan;
}

int64_t Conv2dInt8::padded_height() const { return H_ + p_.pad_top + p_.pad_bottom; }
int64_t Conv2dInt8::padded_width() const { return W_ + p_.pad_left + p_.pad_right; }
// 32 bytes to spare: a Shuffle chunk reads 32 bytes from its first (pack_im2col_tile).
int64_t Conv2dInt8::input_bytes() const { return align64(N_ * C_ * padded_height() * padded_width() + 32); }
int64_t Conv2dInt8::chunk_bytes(const Plan& plan) const {
  return align64(ceil_div(plan.tile_cols, 16) * (16 * sizeof(int32_t) + 32 + sizeof(ChunkRead)));
}
int64_t Conv2dInt8::packed_bytes(const Plan& plan) const {
  return align64(static_cast<int64_t>(qgemm_packed_b_bytes(*packed_->kernel, K_, plan.tile_cols)));
}
int64_t Conv2dInt8::slot_bytes(const Plan& plan) const {
  return chunk_bytes(plan) + packed_bytes(plan) + align64(plan.tile_rows * plan.tile_cols * 4);
}

std::size_t Conv2dInt8::workspace_floats(int threads) const {
  const Plan plan = this->plan(threads);
  return static_cast<std::size_t>(ceil_div(input_bytes() + plan.slots * slot_bytes(plan), sizeof(float)));
}

std::string Conv2dInt8::method() const {
  return std::string("int8 ") + (pointwise_ ? "1x1 " : "im2col ") + packed_->kernel->name;
}

void Conv2dInt8::run(const Tensor& input, Tensor& out, float* workspace, int threads) const {
  if (input.shape() != input_)
    throw Error("int8 conv2d: prepared for input " + shape_to_string(input_) + ", given " +
                shape_to_string(input.shape()));
  if (out.shape() != output_shape_)
    throw Error("int8 conv2d: output tensor must have shape " + shape_to_string(output_shape_) + ", found " +
                shape_to_string(out.shape()));
  if (!workspace)
    throw Error("int8 conv2d: needs a workspace of " + std::to_string(workspace_floats(threads)) +
                " floats, got none");
  const Plan plan = this->plan(threads);
  const int64_t OHW = OH_ * OW_, HW = H_ * W_, PH = padded_height(), PW = padded_width();
  uint8_t* bytes = reinterpret_cast<uint8_t*>(workspace);
  uint8_t* quantized = bytes;  // (N, C, PH, PW)
  const float* in = input.data();
  float* o = out.data();

  // The input quantised once (not once per tap, as quantising inside im2col would), into planes
  // with the padding written out.
  parallel_for(N_ * C_, threads, [&](int64_t plane) {
    const float* src = in + plane * HW;
    uint8_t* dst = quantized + plane * PH * PW;
    if (PW == W_) {
      std::memset(dst, 128, static_cast<std::size_t>(p_.pad_top * PW));
      packed_->kernel->quantize(src, HW, packed_->input_scale, dst + p_.pad_top * PW);
      std::memset(dst + (p_.pad_top + H_) * PW, 128, static_cast<std::size_t>(p_.pad_bottom * PW));
      return;
    }
    for (int64_t y = 0; y < PH; ++y, dst += PW) {
      const int64_t iy = y - p_.pad_top;
      if (iy < 0 || iy >= H_) {
        std::memset(dst, 128, static_cast<std::size_t>(PW));
        continue;
      }
      std::memset(dst, 128, static_cast<std::size_t>(p_.pad_left));
      packed_->kernel->quantize(src + iy * W_, W_, packed_->input_scale, dst + p_.pad_left);
      std::memset(dst + p_.pad_left + W_, 128, static_cast<std::size_t>(p_.pad_right));
    }
  });

  const int64_t tiles = plan.col_tiles * plan.row_tiles, items = plan.planes * tiles;
  const int64_t image_bytes = C_ * PH * PW;
  parallel_for(plan.slots, threads, [&](int64_t slot) {
    uint8_t* slot_base = bytes + input_bytes() + slot * slot_bytes(plan);
    const int64_t chunks = ceil_div(plan.tile_cols, 16);
    const TileColumns map{reinterpret_cast<int32_t*>(slot_base), slot_base + chunks * 16 * sizeof(int32_t),
                          reinterpret_cast<ChunkRead*>(slot_base + chunks * (16 * sizeof(int32_t) + 32))};
    uint8_t* packed = slot_base + chunk_bytes(plan);
    int32_t* sums = reinterpret_cast<int32_t*>(packed + packed_bytes(plan));
    int64_t built = -1;  // the (plane, column tile) whose B `packed` holds
    for (int64_t item = slot * items / plan.slots; item < (slot + 1) * items / plan.slots; ++item) {
      const int64_t rt = item % plan.row_tiles, ct = item / plan.row_tiles % plan.col_tiles, plane = item / tiles;
      // The plane's first image n0 and group g; column c of the plane is image n0 + c / OHW.
      const int64_t n0 = plan.batched ? 0 : plane / groups_, g = plan.batched ? plane : plane % groups_;
      const int64_t c0 = ct * plan.tile_cols, cols = std::min(plan.tile_cols, plan.plane_cols - c0);
      const int64_t r0 = rt * plan.tile_rows, rows = std::min(plan.tile_rows, Og_ - r0);
      if (built != item / plan.row_tiles) {
        built = item / plan.row_tiles;
        const uint8_t* q_g = quantized + n0 * image_bytes + g * Cg_ * PH * PW;  // (C/groups, PH, PW)
        if (pointwise_ && c0 / OHW == (c0 + cols - 1) / OHW) {
          // One image's planes are B (K = C/groups rows of H*W) as they lie.
          qgemm_pack_b(*packed_->kernel, K_, cols, q_g + c0 / OHW * image_bytes + c0 % OHW, HW, packed);
        } else {
          map_tile_columns(OH_, OW_, PW, image_bytes, p_, c0, cols, map);  // small next to the packing
          pack_im2col_tile(*packed_->kernel, PaddedInput{q_g, PH, PW}, Cg_, kH_, kW_, p_, cols, map, packed);
        }
      }
      qgemm_packed(packed_->groups[g], r0, rows, cols, packed, sums, cols);
      // The epilogue while the tile's sums are in cache, image by image.
      for (int64_t c = c0; c < c0 + cols;) {
        const int64_t n = n0 + c / OHW, pos = c % OHW, run = std::min(OHW - pos, c0 + cols - c);
        float* first = o + (n * O_ + g * Og_ + r0) * OHW + pos;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t oc = g * Og_ + r0 + r;
          dequantize_row(sums + r * cols + (c - c0), run, packed_->multiplier[oc], packed_->bias[oc], first + r * OHW);
          if (run < OHW) apply_activation(first + r * OHW, run, p_.activation);
        }
        // A whole image's plane: its channels lie together, one activation call for all (a
        // small plane's rows are too short to pay for a call each).
        if (run == OHW) apply_activation(first, rows * OHW, p_.activation);
        c += run;
      }
    }
  });
}

}  // namespace spdinfer

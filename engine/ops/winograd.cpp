// Winograd F(2x2, 3x3) as 16 GEMMs per block of tiles.
//
// The output is cut into 2x2 tiles; tile (ty, tx) reads the 4x4 input patch at rows
// 2ty - pad_top .. +3 and columns 2tx - pad_left .. +3 (zero outside the input). With
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1],
// the tile's output is A^T [ sum_c (G g_oc G^T) . (B^T d_c B) ] A, where . multiplies element
// by element. So for each of the 16 elements xi of the 4x4 transformed domain, the sum over
// channels is a GEMM: M_xi (O x tiles) = U_xi (O x C) * V_xi (C x tiles).
//
// Work is split into blocks of whole tile rows (about kTargetTiles tiles, the GEMMs' column
// count); tile rows are numbered across the batch, so a block of small images spans several. Per block, on one thread with its own workspace slice:
//   1. V_xi: each input row is transformed along x for all tiles at once (vectorisable loops
//      over tx), then four such rows combine along y;
//   2. the 16 GEMMs;
//   3. per output channel, A^T M A for all tiles at once, bias and activation on the staged
//      values, then the 2x2 results are written into the output planes (odd edges clipped).
#include "engine/ops/winograd.h"

#include <algorithm>
#include <string>
#include <utility>

#include "engine/error.h"
#include "engine/int_math.h"
#include "engine/kernels/vector_clones.h"
#include "engine/ops/activation.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

// GEMM columns per block: fewer makes the GEMM inefficient, more pushes V and M out of cache.
constexpr int64_t kTargetTiles = 128;

struct WinogradDims {
  int64_t N, C, H, W, O, OH, OW;
  int64_t pad_top, pad_left;
  int64_t tiles_y, tiles_x;
  int64_t block_rows;  // tile rows per block, counted across images (row n * tiles_y + ty)
  int64_t blocks, slots;
  int64_t block_tiles() const { return block_rows * tiles_x; }
  // Per slot: V (16, C, tiles), M (16, O, tiles), four transformed input rows (4 x 4 x
  // tiles_x), one padded input row, staged outputs (4 x tiles).
  int64_t padded_row() const { return 2 * tiles_x + 2; }
  int64_t slot_floats() const {
    return 16 * (C + O) * block_tiles() + 16 * tiles_x + padded_row() + 4 * block_tiles();
  }
};

WinogradDims winograd_dims(const Shape& input, const Shape& weight, const Conv2dParams& p, int threads) {
  const Shape out = conv2d_output_shape(input, weight, p);
  WinogradDims d;
  d.N = input[0], d.C = input[1], d.H = input[2], d.W = input[3], d.O = weight[0];
  d.OH = out[2], d.OW = out[3];
  d.pad_top = p.pad_top, d.pad_left = p.pad_left;
  d.tiles_y = ceil_div(d.OH, 2), d.tiles_x = ceil_div(d.OW, 2);
  const int64_t all_rows = d.N * d.tiles_y;
  d.block_rows = std::clamp<int64_t>(kTargetTiles / d.tiles_x, 1, all_rows);
  // Enough blocks that every thread has one.
  d.block_rows = std::max<int64_t>(1, std::min(d.block_rows, all_rows / std::max(threads, 1)));
  d.blocks = ceil_div(all_rows, d.block_rows);
  d.slots = std::max<int64_t>(1, std::min<int64_t>(threads, d.blocks));
  return d;
}

// Input row iy of a plane, transformed along x for every tile: rows[j * tiles_x + tx] is
// element j of B^T (x[2tx - pad_left .. +3]). Rows outside the plane are zero.
SPDINFER_VECTOR_CLONES
void transform_row(const float* plane, int64_t iy, const WinogradDims& d, float* padded, float* rows) {
  const int64_t n = d.tiles_x;
  if (iy < 0 || iy >= d.H) {
    std::fill(rows, rows + 4 * n, 0.0f);
    return;
  }
  // padded[k] = x[k - pad_left], zero outside [0, W).
  const float* x = plane + iy * d.W;
  const int64_t len = d.padded_row();
  const int64_t lo = std::min(len, d.pad_left), hi = std::clamp<int64_t>(d.W + d.pad_left, lo, len);
  std::fill(padded, padded + lo, 0.0f);
  std::copy(x + (lo - d.pad_left), x + (hi - d.pad_left), padded + lo);
  std::fill(padded + hi, padded + len, 0.0f);
  float* w0 = rows;
  float* w1 = rows + n;
  float* w2 = rows + 2 * n;
  float* w3 = rows + 3 * n;
  for (int64_t tx = 0; tx < n; ++tx) {
    const float* q = padded + 2 * tx;
    w0[tx] = q[0] - q[2];
    w1[tx] = q[1] + q[2];
    w2[tx] = q[2] - q[1];
    w3[tx] = q[1] - q[3];
  }
}

// V for the tile rows [row0, row0 + rows) of the batch: V[(xi * C + c) * ld + t], t = local tile.
SPDINFER_VECTOR_CLONES
void transform_input(const float* in, const WinogradDims& d, int64_t row0, int64_t rows, int64_t ld, float* V,
                     float* row_buffers, float* padded) {
  const int64_t nx = d.tiles_x;
  float* t[4];  // the four input rows of the current tile row, transformed along x
  for (int k = 0; k < 4; ++k) t[k] = row_buffers + k * 4 * nx;
  for (int64_t c = 0; c < d.C; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = (row0 + r) / d.tiles_y, ty = (row0 + r) % d.tiles_y;
      const float* plane = in + (n * d.C + c) * d.H * d.W;
      const int64_t iy0 = 2 * ty - d.pad_top;
      // Tile rows overlap by two input rows: when the previous tile row was ty - 1 of the
      // same plane, its last two transformed rows are this one's first two.
      const bool follows_previous = r > 0 && ty > 0;
      if (follows_previous) {
        std::swap(t[0], t[2]);
        std::swap(t[1], t[3]);
      }
      for (int k = follows_previous ? 2 : 0; k < 4; ++k) transform_row(plane, iy0 + k, d, padded, t[k]);
      const int64_t col = r * nx;
      for (int j = 0; j < 4; ++j) {
        const float* r0 = t[0] + j * nx;
        const float* r1 = t[1] + j * nx;
        const float* r2 = t[2] + j * nx;
        const float* r3 = t[3] + j * nx;
        float* v0 = V + ((0 * 4 + j) * d.C + c) * ld + col;
        float* v1 = V + ((1 * 4 + j) * d.C + c) * ld + col;
        float* v2 = V + ((2 * 4 + j) * d.C + c) * ld + col;
        float* v3 = V + ((3 * 4 + j) * d.C + c) * ld + col;
        for (int64_t tx = 0; tx < nx; ++tx) {
          v0[tx] = r0[tx] - r2[tx];
          v1[tx] = r1[tx] + r2[tx];
          v2[tx] = r2[tx] - r1[tx];
          v3[tx] = r1[tx] - r3[tx];
        }
      }
    }
  }
}

// A^T M A for every output channel and tile of the block, bias, activation, then into `out`.
SPDINFER_VECTOR_CLONES
void transform_output(const float* M, const float* bias, Activation activation, const WinogradDims& d,
                      int64_t row0, int64_t rows, int64_t ld, float* stage, float* out) {
  const int64_t tiles = rows * d.tiles_x;
  float* y00 = stage;
  float* y01 = stage + tiles;
  float* y10 = stage + 2 * tiles;
  float* y11 = stage + 3 * tiles;
  for (int64_t o = 0; o < d.O; ++o) {
    const float* m[16];
    for (int xi = 0; xi < 16; ++xi) m[xi] = M + (xi * d.O + o) * ld;
    const float b = bias ? bias[o] : 0.0f;
    for (int64_t t = 0; t < tiles; ++t) {
      // Along y: s0 = rows 0 + 1 + 2, s1 = rows 1 - 2 - 3 (per column j); then along x.
      float s0[4], s1[4];
      for (int j = 0; j < 4; ++j) {
        s0[j] = m[j][t] + m[4 + j][t] + m[8 + j][t];
        s1[j] = m[4 + j][t] - m[8 + j][t] - m[12 + j][t];
      }
      y00[t] = s0[0] + s0[1] + s0[2] + b;
      y01[t] = s0[1] - s0[2] - s0[3] + b;
      y10[t] = s1[0] + s1[1] + s1[2] + b;
      y11[t] = s1[1] - s1[2] - s1[3] + b;
    }
    apply_activation(stage, 4 * tiles, activation);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = (row0 + r) / d.tiles_y, oy = 2 * ((row0 + r) % d.tiles_y);
      float* plane = out + (n * d.O + o) * d.OH * d.OW;
      const int64_t t0 = r * d.tiles_x;
      float* top = plane + oy * d.OW;
      // Whole tiles, then the last column when OW is odd.
      const int64_t full = d.OW / 2;
      for (int64_t tx = 0; tx < full; ++tx) top[2 * tx] = y00[t0 + tx], top[2 * tx + 1] = y01[t0 + tx];
      if (d.OW % 2) top[2 * full] = y00[t0 + full];
      if (oy + 1 >= d.OH) continue;
      float* bottom = top + d.OW;
      for (int64_t tx = 0; tx < full; ++tx) bottom[2 * tx] = y10[t0 + tx], bottom[2 * tx + 1] = y11[t0 + tx];
      if (d.OW % 2) bottom[2 * full] = y10[t0 + full];
    }
  }
}

}  // namespace

bool winograd_supports(const Shape& input, const Shape& weight, const Conv2dParams& p) {
  return input.size() == 4 && weight.size() == 4 && weight[2] == 3 && weight[3] == 3 && p.stride_h == 1 &&
         p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1 && p.groups == 1 && weight[1] == input[1];
}

Tensor winograd_weights(const Tensor& weight) {
  const Shape& s = weight.shape();
  if (s.size() != 4 || s[2] != 3 || s[3] != 3)
    throw Error("winograd: weight must be (O, C, 3, 3), found " + shape_to_string(s));
  const int64_t O = s[0], C = s[1];
  Tensor U({16, O, C});
  for (int64_t o = 0; o < O; ++o) {
    for (int64_t c = 0; c < C; ++c) {
      const float* g = weight.data() + (o * C + c) * 9;
      // Gg: 4 x 3, rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 of the kernel's rows.
      double gg[4][3];
      for (int x = 0; x < 3; ++x) {
        const double a = g[x], b = g[3 + x], c2 = g[6 + x];
        gg[0][x] = a, gg[1][x] = (a + b + c2) / 2, gg[2][x] = (a - b + c2) / 2, gg[3][x] = c2;
      }
      for (int i = 0; i < 4; ++i) {
        const double a = gg[i][0], b = gg[i][1], c2 = gg[i][2];
        const double row[4] = {a, (a + b + c2) / 2, (a - b + c2) / 2, c2};
        for (int j = 0; j < 4; ++j) U[((i * 4 + j) * O + o) * C + c] = static_cast<float>(row[j]);
      }
    }
  }
  return U;
}

WinogradWeights::WinogradWeights(const Tensor& weight) : weight_shape_(weight.shape()) {
  const Tensor U = winograd_weights(weight);
  const int64_t O = U.shape()[1], C = U.shape()[2];
  const GemmMicroKernel& kernel = gemm_micro_kernel(active_isa());
  matrices_.reserve(16);
  for (int xi = 0; xi < 16; ++xi) matrices_.emplace_back(kernel, U.data() + xi * O * C, O, C, C);
}

std::size_t winograd_workspace_floats(const Shape& input, const Shape& weight, const Conv2dParams& params,
                                      int threads) {
  const WinogradDims d = winograd_dims(input, weight, params, threads);
  return static_cast<std::size_t>(d.slots * d.slot_floats());
}

void conv2d_winograd(const Tensor& input, const WinogradWeights& weights, const Tensor* bias, const Conv2dParams& p,
                     Tensor& out, float* workspace, int threads) {
  if (weights.empty()) throw Error("conv2d (winograd): no transformed weights");
  const WinogradDims d = winograd_dims(input.shape(), weights.weight_shape(), p, threads);
  if (out.shape() != Shape{d.N, d.O, d.OH, d.OW})
    throw Error("conv2d (winograd): output tensor has shape " + shape_to_string(out.shape()));
  if (!workspace) throw Error("conv2d (winograd): needs a workspace, got none");
  const int64_t ld = d.block_tiles();
  const float* in = input.data();
  const float* b = bias ? bias->data() : nullptr;
  float* o = out.data();
  parallel_for(d.slots, threads, [&](int64_t slot) {
    float* V = workspace + slot * d.slot_floats();
    float* M = V + 16 * d.C * ld;
    float* row_buffers = M + 16 * d.O * ld;
    float* padded = row_buffers + 16 * d.tiles_x;
    float* stage = padded + d.padded_row();
    for (int64_t block = slot * d.blocks / d.slots; block < (slot + 1) * d.blocks / d.slots; ++block) {
      const int64_t row0 = block * d.block_rows;
      const int64_t rows = std::min(d.block_rows, d.N * d.tiles_y - row0);
      const int cols = static_cast<int>(rows * d.tiles_x);
      transform_input(in, d, row0, rows, ld, V, row_buffers, padded);
      for (int xi = 0; xi < 16; ++xi)
        gemm_packed(weights.matrix(xi), 0, d.O, cols, V + xi * d.C * ld, ld, M + xi * d.O * ld, ld);
      transform_output(M, b, p.activation, d, row0, rows, ld, stage, o);
    }
  });
}

}  // namespace spdinfer

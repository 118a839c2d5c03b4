// Packing walks a panel's columns as runs of one output row each (a panel of 32 columns over a
// 160-wide map is one or two runs); for each row k of the block it copies every run's valid
// stretch of the input row and zeroes what falls in the padding.
#include "engine/kernels/im2col_b.h"

#include <algorithm>
#include <cstring>

namespace spdinfer {
namespace {

// Output columns [ox, ox + length) of output row oy, at offset `at` in the panel.
struct Run {
  int64_t oy, ox, length, at;
};

// The runs of columns [j, j + count) of the output (row-major OH x OW positions).
int split_runs(int64_t j, int64_t count, int64_t out_w, Run* runs) {
  int n = 0;
  for (int64_t at = 0; at < count; ++n) {
    const int64_t oy = (j + at) / out_w, ox = (j + at) % out_w;
    const int64_t length = std::min(out_w - ox, count - at);
    runs[n] = {oy, ox, length, at};
    at += length;
  }
  return n;
}

// The positions x in [ox, ox + length) whose input column x * stride + offset lies in
// [0, width), as [lo, hi) (empty when lo >= hi).
void valid_columns(int64_t ox, int64_t length, int64_t stride, int64_t offset, int64_t width, int64_t& lo,
                   int64_t& hi) {
  // x * stride + offset >= 0  <=>  x >= ceil(-offset / stride)
  const int64_t first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // x * stride + offset <= width - 1  <=>  x <= floor((width - 1 - offset) / stride)
  const int64_t last_plus_one = width - 1 - offset < 0 ? 0 : (width - 1 - offset) / stride + 1;
  lo = std::clamp(first, ox, ox + length);
  hi = std::clamp(last_plus_one, lo, ox + length);
}

}  // namespace

void Im2colB::pack(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float* out) const {
  const Im2colGeometry& g = g_;
  const int64_t taps = g.kernel_h * g.kernel_w;
  Run runs[64];  // a panel has at most nr <= 64 columns, so at most that many runs
  for (int64_t j0 = 0; j0 < nc; j0 += nr, out += kc * nr) {
    const int64_t width = std::min<int64_t>(nr, nc - j0);
    const int n_runs = split_runs(col0_ + n0 + j0, width, g.out_w, runs);
    for (int64_t k = k0; k < k0 + kc; ++k) {
      const int64_t c = k / taps, ky = k % taps / g.kernel_w, kx = k % g.kernel_w;
      const float* plane = input_ + c * g.height * g.width;
      const int64_t y_offset = ky * g.dilation_h - g.pad_top, x_offset = kx * g.dilation_w - g.pad_left;
      float* dst = out + (k - k0) * nr;
      for (int r = 0; r < n_runs; ++r) {
        const Run& run = runs[r];
        float* d = dst + run.at;
        const int64_t iy = run.oy * g.stride_h + y_offset;
        if (iy < 0 || iy >= g.height) {
          std::fill(d, d + run.length, 0.0f);
          continue;
        }
        int64_t lo, hi;
        valid_columns(run.ox, run.length, g.stride_w, x_offset, g.width, lo, hi);
        const float* row = plane + iy * g.width + x_offset;
        std::fill(d, d + (lo - run.ox), 0.0f);
        if (g.stride_w == 1) {
          if (hi > lo) std::memcpy(d + (lo - run.ox), row + lo, sizeof(float) * (hi - lo));
        } else {
          for (int64_t x = lo; x < hi; ++x) d[x - run.ox] = row[x * g.stride_w];
        }
        std::fill(d + (hi - run.ox), d + run.length, 0.0f);
      }
      std::fill(dst + width, dst + nr, 0.0f);
    }
  }
}

float im2col_reference(const float* input, const Im2colGeometry& g, int64_t k, int64_t j) {
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t c = k / taps, ky = k % taps / g.kernel_w, kx = k % g.kernel_w;
  const int64_t oy = j / g.out_w, ox = j % g.out_w;
  const int64_t iy = oy * g.stride_h + ky * g.dilation_h - g.pad_top;
  const int64_t ix = ox * g.stride_w + kx * g.dilation_w - g.pad_left;
  if (iy < 0 || iy >= g.height || ix < 0 || ix >= g.width) return 0.0f;
  return input[(c * g.height + iy) * g.width + ix];
}

}  // namespace spdinfer

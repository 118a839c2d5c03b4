#include "engine/ops/conv_path.h"

#include <cstdlib>
#include <sstream>

#include "engine/error.h"
#include "engine/int_math.h"
#include "engine/kernels/blas.h"
#include "engine/ops/conv_direct.h"
#include "engine/ops/winograd.h"

namespace spdinfer {
namespace {

// --- Every threshold of the choice. The figures are from one core of an AVX-512 Xeon with the
// engine's GEMM (and, where older, an AMD EPYC); see docs/performance.md.
//
// Winograd: below this many input or output channels its transforms cost as much as they save.
constexpr int64_t kWinogradMinChannels = 64;
// Winograd: below this many 2x2 output tiles in the whole batch (a 4x4 map at batch 1) the GEMMs
// have a handful of columns and are bound by reading the weights, which Winograd makes 16/9
// larger (512 channels at 4x4: 2.7 ms against 1.5 by im2col; at 8x8, 4.3 against 4.8).
constexpr int64_t kWinogradMinTiles = 16;
// Winograd: transformed weights larger than this (512 x 512 channels: 16 MiB) need twice the
// tiles. At 16 tiles (an 8x8 map at batch 1) such a layer is bound by reading its weights, and
// the two paths measure even (512 channels: 2.8-3.5 ms by im2col, 3.1-3.5 by Winograd), so the
// transformed copy would only add 16/9 of the weights to the process's memory.
constexpr int64_t kWinogradLargeWeightBytes = 8 << 20;
// Direct (engine/ops/conv_direct.h): layers not taken by Winograd with at most this many input
// channels, at least this many output channels (fewer leave each broadcast input value less than
// a register's multiply-add), at most this many (more are several passes over the input)...
constexpr int64_t kDirectMaxInputChannels = 64;
constexpr int64_t kDirectMinOutputChannels = 16;
constexpr int64_t kDirectMaxOutputChannels = 64;
// ... on maps at least this wide (rows of whole blocks of positions).
constexpr int64_t kDirectMinWidth = 32;
// Output planes smaller than this many positions are batched across images, up to about this
// many columns per GEMM.
constexpr int64_t kBatchedGemmColumns = 256;
// At most kNarrowGemmColumns (engine/kernels/blas.h) columns, dot products read the weights
// once, where a GEMM kernel would multiply mostly padding.

const char* method_name(ConvMethod m) {
  switch (m) {
    case ConvMethod::Depthwise: return "depthwise";
    case ConvMethod::Winograd: return "winograd";
    case ConvMethod::Pointwise: return "1x1";
    case ConvMethod::Direct: return "direct";
    case ConvMethod::Im2col: return "im2col";
  }
  return "?";
}

}  // namespace

std::string ConvPath::name() const {
  std::string s = method_name(method);
  if (method == ConvMethod::Pointwise || method == ConvMethod::Im2col)
    s += product == ConvProduct::Narrow ? " narrow" : "";
  if (batch_images > 1) s += " x" + std::to_string(batch_images) + " images";
  return s;
}

ConvSwitches ConvSwitches::from_environment() {
  ConvSwitches s;
  const char* off = std::getenv("SPDINFER_CONV_OFF");
  if (!off) return s;
  std::istringstream words(off);
  for (std::string word; std::getline(words, word, ',');) {
    if (word == "winograd") s.winograd = false;
    else if (word == "direct") s.direct = false;
    else if (word == "narrow") s.narrow = false;
    else if (!word.empty())
      throw Error("SPDINFER_CONV_OFF: unknown path '" + word + "' (expected winograd, direct or narrow)");
  }
  return s;
}

ConvPath choose_conv_path(const Shape& input, const Shape& weight, const Conv2dParams& p,
                          const ConvSwitches& switches) {
  const Shape out = conv2d_output_shape(input, weight, p);
  const int64_t N = input[0], C = input[1], O = weight[0], OHW = out[2] * out[3];
  ConvPath path;
  if (p.groups > 1 && C / p.groups == 1) {
    path.method = ConvMethod::Depthwise;
    return path;
  }
  const int64_t tiles = N * ceil_div(out[2], 2) * ceil_div(out[3], 2);
  const int64_t winograd_weight_bytes = 16 * O * C * static_cast<int64_t>(sizeof(float));
  const int64_t min_tiles = winograd_weight_bytes > kWinogradLargeWeightBytes ? 2 * kWinogradMinTiles : kWinogradMinTiles;
  if (switches.winograd && winograd_supports(input, weight, p) && C >= kWinogradMinChannels &&
      O >= kWinogradMinChannels && tiles >= min_tiles) {
    path.method = ConvMethod::Winograd;
    return path;
  }
  if (switches.direct && direct_conv_supports(input, weight, p) && C <= kDirectMaxInputChannels &&
      O >= kDirectMinOutputChannels && O <= kDirectMaxOutputChannels && out[3] >= kDirectMinWidth) {
    path.method = ConvMethod::Direct;
    return path;
  }
  const bool pointwise = weight[2] == 1 && weight[3] == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
  path.method = pointwise ? ConvMethod::Pointwise : ConvMethod::Im2col;
  if (N > 1 && OHW < kBatchedGemmColumns) path.batch_images = std::min(N, ceil_div(kBatchedGemmColumns, OHW));
  const int64_t columns = path.batch_images * OHW;  // of one GEMM over a whole plane
  if (switches.narrow && columns <= kNarrowGemmColumns) path.product = ConvProduct::Narrow;
  return path;
}

}  // namespace spdinfer

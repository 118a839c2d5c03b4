// Detect decoding. The reference indexes element by element with std::exp;
// the fast version works in blocks of positions with the vectorised sigmoid.
#include "models/yolo_detect_op.h"

#include <algorithm>
#include <cmath>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/kernels/fast_math.h"
#include "engine/kernels/vector_clones.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

float decode_one(float raw, int k, int a, int64_t y, int64_t x, const YoloDecodeParams& p) {
  const float s = sigmoid(raw);
  switch (k) {
    case 0: return (2.0f * s - 0.5f + static_cast<float>(x)) * p.stride;
    case 1: return (2.0f * s - 0.5f + static_cast<float>(y)) * p.stride;
    case 2: return 4.0f * s * s * p.anchors[2 * a];
    case 3: return 4.0f * s * s * p.anchors[2 * a + 1];
    default: return s;
  }
}

class YoloDecodeKernel : public Kernel {
 public:
  YoloDecodeKernel(const Node& node, const Shape& in) {
    p_.num_anchors = int_attr(node, "num_anchors", 3);
    p_.num_outputs = int_attr(node, "num_outputs", 85);
    p_.stride = float_attr(node, "stride", 0);
    auto it = node.attrs.find("anchors");
    if (it == node.attrs.end() || !it->is_array()) throw Error("attribute 'anchors' must be a list of numbers");
    for (const auto& v : *it) {
      if (!v.is_number()) throw Error("attribute 'anchors' must be a list of numbers");
      p_.anchors.push_back(v.get<float>());
    }
    output_shape_ = yolo_decode_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    yolo_decode(*inputs[0], p_, out, threads);
  }

 private:
  YoloDecodeParams p_;
};

}  // namespace

Shape yolo_decode_output_shape(const Shape& in, const YoloDecodeParams& p) {
  if (p.num_anchors <= 0 || p.num_outputs < 6) throw Error("num_anchors must be > 0 and num_outputs >= 6");
  if (!(p.stride > 0)) throw Error("stride must be positive");
  if (static_cast<int>(p.anchors.size()) != 2 * p.num_anchors)
    throw Error("expected " + std::to_string(2 * p.num_anchors) + " anchor values, found " +
                std::to_string(p.anchors.size()));
  if (in.size() != 4 || in[1] != static_cast<int64_t>(p.num_anchors) * p.num_outputs)
    throw Error("input must be (N, " + std::to_string(p.num_anchors * p.num_outputs) + ", H, W), found " +
                shape_to_string(in));
  return {in[0], p.num_anchors * in[2] * in[3], p.num_outputs};
}

void yolo_decode_reference(const Tensor& input, const YoloDecodeParams& p, Tensor& out) {
  const int64_t N = input.dim(0), H = input.dim(2), W = input.dim(3);
  const int na = p.num_anchors, no = p.num_outputs;
  for (int64_t n = 0; n < N; ++n)
    for (int a = 0; a < na; ++a)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          for (int k = 0; k < no; ++k) {
            const float raw = input[((n * na + a) * no + k) * H * W + y * W + x];
            out[((n * na + a) * H * W + y * W + x) * no + k] = decode_one(raw, k, a, y, x, p);
          }
}

namespace {

// Positions per block: each output row of a block is written whole while the block's sigmoids
// (computed plane by plane, vectorised) are in L1.
constexpr int64_t kDecodeBlock = 64;

// Positions [p0, p0 + len) of one anchor's planes (no planes of H x W raw outputs, src at
// position p0) decoded into rows of `no` values at dst. (Decoding into a block first and
// storing whole rows from it measured no faster: the planes are read from memory either way.)
SPDINFER_VECTOR_CLONES
void decode_block(const float* src, int64_t HW, int64_t W, int64_t p0, int64_t len, int a, const YoloDecodeParams& p,
                  float* dst) {
  const int no = p.num_outputs;
  float s[kDecodeBlock];
  for (int k = 0; k < no; ++k) {
    const float* raw = src + k * HW;
    for (int64_t j = 0; j < len; ++j) s[j] = sigmoid_approx(raw[j]);
    float* col = dst + k;
    if (k == 0) {
      for (int64_t j = 0; j < len; ++j) col[j * no] = (2.0f * s[j] - 0.5f + static_cast<float>((p0 + j) % W)) * p.stride;
    } else if (k == 1) {
      for (int64_t j = 0; j < len; ++j) col[j * no] = (2.0f * s[j] - 0.5f + static_cast<float>((p0 + j) / W)) * p.stride;
    } else if (k < 4) {
      const float anchor = 4.0f * p.anchors[2 * a + (k - 2)];
      for (int64_t j = 0; j < len; ++j) col[j * no] = s[j] * s[j] * anchor;
    } else {
      for (int64_t j = 0; j < len; ++j) col[j * no] = s[j];
    }
  }
}

}  // namespace

void yolo_decode(const Tensor& input, const YoloDecodeParams& p, Tensor& out, int threads) {
  const int64_t N = input.dim(0), H = input.dim(2), W = input.dim(3), HW = H * W;
  const int na = p.num_anchors, no = p.num_outputs;
  const int64_t blocks = (HW + kDecodeBlock - 1) / kDecodeBlock;
  parallel_for(N * na * blocks, threads, [&](int64_t item) {
    const int64_t plane = item / blocks, p0 = item % blocks * kDecodeBlock, len = std::min(kDecodeBlock, HW - p0);
    decode_block(input.data() + plane * no * HW + p0, HW, W, p0, len, static_cast<int>(plane % na), p,
                 out.data() + (plane * HW + p0) * no);
  });
}

OpDef yolo_decode_op() {
  return unary_op("yolo_decode", prepare_kernel<YoloDecodeKernel>);
}

const OpRegistry& yolov5_ops() {
  static const OpRegistry registry = [] {
    OpRegistry r = builtin_ops();
    r.add(yolo_decode_op());
    return r;
  }();
  return registry;
}

}  // namespace spdinfer

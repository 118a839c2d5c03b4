// Softmax. Both forms see the tensor as (outer, len, inner) around the axis.
// The reference walks one slice at a time with a strided index. The fast
// form handles the common inner == 1 case (last axis) row by row, and
// otherwise sweeps whole inner rows per axis step so the loops stay
// contiguous and vectorise.
#include "engine/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

// NaN needs no special case: std::max may skip a NaN, but exp(NaN - max) is
// NaN, so the slice's sum is NaN and with it every output of the slice. The
// arithmetic is plain float math throughout (no float-to-int conversion), so
// NaN and inf inputs are well defined.

struct Slices {
  int64_t outer = 1, len = 1, inner = 1;
};

Slices slices_of(const Shape& shape, const SoftmaxParams& params) {
  const int rank = static_cast<int>(shape.size());
  const int axis = params.axis < 0 ? params.axis + rank : params.axis;
  Slices s;
  for (int d = 0; d < rank; ++d) {
    if (d < axis)
      s.outer *= shape[d];
    else if (d == axis)
      s.len = shape[d];
    else
      s.inner *= shape[d];
  }
  return s;
}

void check_output(const Tensor& input, const SoftmaxParams& params, const Tensor& output) {
  const Shape expected = softmax_output_shape(input.shape(), params);
  if (output.shape() != expected)
    throw Error("softmax: output shape " + shape_to_string(output.shape()) + ", expected " +
                shape_to_string(expected));
}

// One contiguous row of `len` values; in and out may be the same memory.
void softmax_row(const float* in, int64_t len, float* out) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < len; ++i) m = std::max(m, in[i]);
  float sum = 0.0f;
  for (int64_t i = 0; i < len; ++i) {
    out[i] = std::exp(in[i] - m);
    sum += out[i];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < len; ++i) out[i] *= inv;
}

// `width` columns of one (len, inner) block; in and out point at the first
// column of axis step 0, step a lies a * inner further. max and sum hold `width` floats.
void softmax_columns(const float* in, int64_t len, int64_t inner, int64_t width, float* out, float* max,
                     float* sum) {
  std::fill(max, max + width, -std::numeric_limits<float>::infinity());
  std::fill(sum, sum + width, 0.0f);
  for (int64_t a = 0; a < len; ++a)
    for (int64_t i = 0; i < width; ++i) max[i] = std::max(max[i], in[a * inner + i]);
  for (int64_t a = 0; a < len; ++a)
    for (int64_t i = 0; i < width; ++i) {
      out[a * inner + i] = std::exp(in[a * inner + i] - max[i]);
      sum[i] += out[a * inner + i];
    }
  for (int64_t i = 0; i < width; ++i) sum[i] = 1.0f / sum[i];
  for (int64_t a = 0; a < len; ++a)
    for (int64_t i = 0; i < width; ++i) out[a * inner + i] *= sum[i];
}

}  // namespace

Shape softmax_output_shape(const Shape& input, const SoftmaxParams& params) {
  const int rank = static_cast<int>(input.size());
  if (rank == 0) throw Error("softmax: input has no dimensions");
  if (params.axis < -rank || params.axis >= rank)
    throw Error("softmax: axis " + std::to_string(params.axis) + " out of range for input " +
                shape_to_string(input));
  return input;
}

void softmax_reference(const Tensor& input, const SoftmaxParams& params, Tensor& output) {
  check_output(input, params, output);
  const Slices s = slices_of(input.shape(), params);
  // input (outer, len, inner): one slice per (o, i), its elements len apart by stride inner.
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) {
      auto at = [&](int64_t a) { return (o * s.len + a) * s.inner + i; };
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t a = 0; a < s.len; ++a) m = std::max(m, input[at(a)]);
      double sum = 0.0;
      for (int64_t a = 0; a < s.len; ++a) sum += std::exp(static_cast<double>(input[at(a)]) - m);
      for (int64_t a = 0; a < s.len; ++a)
        output[at(a)] = static_cast<float>(std::exp(static_cast<double>(input[at(a)]) - m) / sum);
    }
}

void softmax(const Tensor& input, const SoftmaxParams& params, Tensor& output, int threads) {
  check_output(input, params, output);
  const Slices s = slices_of(input.shape(), params);
  const float* in = input.data();
  float* out = output.data();
  if (s.len == 0) return;
  if (s.inner == 1) {
    parallel_for(s.outer, threads, [&](int64_t o) { softmax_row(in + o * s.len, s.len, out + o * s.len); });
    return;
  }
  // Work items: (outer index, block of kBlock columns), so a single image still splits.
  constexpr int64_t kBlock = 256;
  const int64_t col_blocks = (s.inner + kBlock - 1) / kBlock;
  parallel_for(s.outer * col_blocks, threads, [&](int64_t item) {
    const int64_t o = item / col_blocks, i0 = (item % col_blocks) * kBlock,
                  i1 = std::min(s.inner, i0 + kBlock);
    float max[kBlock], sum[kBlock];
    const int64_t first = o * s.len * s.inner + i0;
    softmax_columns(in + first, s.len, s.inner, i1 - i0, out + first, max, sum);
  });
}

namespace {
class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(const Node& node, const Shape& in) {
    p_.axis = int_attr(node, "axis", -1);
    output_shape_ = softmax_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    softmax(*inputs[0], p_, out, threads);
  }

 private:
  SoftmaxParams p_;
};
}  // namespace

OpDef softmax_op() {
  return unary_op("softmax", prepare_kernel<SoftmaxKernel>);
}

}  // namespace spdinfer

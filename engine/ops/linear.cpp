// Linear layer. The fast form is one product per block of output features, which is what the
// threads split (with batch 1 it is a matrix-vector product whose only parallelism is across the
// weight's rows): sgemm_bt, or for a batch of a few rows, bound by reading the weight once, dot
// products of the inputs with the weight's rows (sgemm_dot_bt; 2048 -> 100 features at batch 1,
// one Zen 5 core: 0.35 ms by sgemm_bt, which packs the weight on every call, against 0.04).
#include "engine/ops/linear.h"

#include <algorithm>
#include <climits>
#include <string>

#include "engine/kernels/blas.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {

namespace {

void check_shapes(const Tensor& input, const Tensor& weight, const Tensor* bias, const Tensor& output) {
  const Shape expected = linear_output_shape(input.shape(), weight.shape(), bias ? &bias->shape() : nullptr);
  if (output.shape() != expected)
    throw Error("linear: output shape " + shape_to_string(output.shape()) + ", expected " +
                shape_to_string(expected));
}

}  // namespace

Shape linear_output_shape(const Shape& input, const Shape& weight, const Shape* bias) {
  const bool flat = input.size() == 2, pooled = input.size() == 4 && input[2] == 1 && input[3] == 1;
  if (!flat && !pooled)
    throw Error("linear: expected an (N, in) or (N, in, 1, 1) input, got " + shape_to_string(input));
  if (weight.size() != 2 || weight[1] != input[1])
    throw Error("linear: weight " + shape_to_string(weight) + " does not fit input " +
                shape_to_string(input) + " (expected (out, " + std::to_string(input[1]) + "))");
  if (bias && (bias->size() != 1 || (*bias)[0] != weight[0]))
    throw Error("linear: bias " + shape_to_string(*bias) + " does not fit weight " + shape_to_string(weight) +
                " (expected (" + std::to_string(weight[0]) + "))");
  // The BLAS takes int dimensions.
  if (input[0] > INT_MAX || input[1] > INT_MAX || weight[0] > INT_MAX)
    throw Error("linear: dimensions of input " + shape_to_string(input) + " and weight " +
                shape_to_string(weight) + " exceed the BLAS's int range");
  return {input[0], weight[0]};
}

void linear_reference(const Tensor& input, const Tensor& weight, const Tensor* bias, Tensor& output) {
  check_shapes(input, weight, bias, output);
  const int64_t N = input.dim(0), in = input.dim(1), out = weight.dim(0);
  // input (N, in) . weight (out, in)^T -> output (N, out)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bias ? (*bias)[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(input[n * in + i]) * weight[o * in + i];
      output[n * out + o] = static_cast<float>(acc);
    }
}

void linear(const Tensor& input, const Tensor& weight, const Tensor* bias, Tensor& output, int threads) {
  check_shapes(input, weight, bias, output);
  const int N = static_cast<int>(input.dim(0)), in = static_cast<int>(input.dim(1));
  const int out = static_cast<int>(weight.dim(0));
  if (N == 0 || out == 0) return;
  if (in == 0) {  // an empty sum: only the bias remains; BLAS wants K >= 1 for its leading dimensions
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < out; ++o) output[int64_t{n} * out + o] = bias ? (*bias)[o] : 0.0f;
    return;
  }
  // Column blocks of at least 64 features so each GEMM call has some substance.
  constexpr int kMinBlock = 64;
  const int blocks = std::max(1, std::min(threads, out / kMinBlock));
  const int block = (out + blocks - 1) / blocks;
  const float* a = input.data();
  const float* w = weight.data();
  float* c = output.data();
  parallel_for(blocks, threads, [&](int64_t b) {
    const int j0 = static_cast<int>(b) * block, cols = std::min(block, out - j0);
    if (cols <= 0) return;
    // output[:, j0:j0+cols] (N, cols) = input (N, in) . weight[j0:j0+cols, :]^T
    const float* w_rows = w + int64_t{j0} * in;
    if (N <= kNarrowGemmColumns)
      sgemm_dot_bt(N, cols, in, a, in, w_rows, c + j0, out);
    else
      sgemm_bt(N, cols, in, a, in, w_rows, in, c + j0, out);
    if (bias)
      for (int n = 0; n < N; ++n)
        for (int j = j0; j < j0 + cols; ++j) c[int64_t{n} * out + j] += (*bias)[j];
  });
}

namespace {
class LinearKernel : public Kernel {
 public:
  LinearKernel(const Shape& in, const std::vector<const Tensor*>& weights)
      : weight_(weights[0]), bias_(weights.size() > 1 ? weights[1] : nullptr) {
    const Shape& w = weight_->shape();
    output_shape_ = linear_output_shape(in, w, bias_ ? &bias_->shape() : nullptr);
    macs_ = static_cast<double>(shape_numel(in)) * static_cast<double>(w.at(0));
  }
  double macs() const override { return macs_; }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    linear(*inputs[0], *weight_, bias_, out, threads);
  }

 private:
  const Tensor* weight_;
  const Tensor* bias_;
  double macs_ = 0;
};
}  // namespace

OpDef linear_op() {
  return unary_op("linear", [](const Node&, const std::vector<Shape>& s,
                               const std::vector<const Tensor*>& w) -> std::unique_ptr<Kernel> {
    return std::make_unique<LinearKernel>(s[0], w);
  }, 1, 2);
}

}  // namespace spdinfer

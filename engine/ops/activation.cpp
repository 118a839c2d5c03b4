// Activations. The reference uses std::exp; the fast path a vectorisable
// polynomial exp (engine/kernels/fast_math.h), within 1e-7 relative of it.
#include "engine/ops/activation.h"

#include <algorithm>
#include <cmath>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/kernels/fast_math.h"
#include "engine/kernels/vector_clones.h"
#include "engine/parallel.h"

namespace spdinfer {

Activation parse_activation(const std::string& name) {
  if (name == "none" || name.empty()) return Activation::None;
  if (name == "relu") return Activation::ReLU;
  if (name == "silu") return Activation::SiLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  throw Error("unknown activation '" + name + "' (expected none, relu, silu or sigmoid)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::ReLU: return "relu";
    case Activation::SiLU: return "silu";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "none";
}

namespace {

// ReLU as PyTorch's: `x < 0 ? 0 : x` keeps NaN (and -0) where `x > 0 ? x : 0` would make them 0,
// turning a NaN image into finite, confident-looking logits. Still one compare and a blend per
// lane, so the loop below vectorises as before.
inline float relu(float x) { return x < 0.0f ? 0.0f : x; }

float activate_one(float x, Activation a) {
  switch (a) {
    case Activation::None: return x;
    case Activation::ReLU: return relu(x);
    case Activation::SiLU: return x / (1.0f + std::exp(-x));
    case Activation::Sigmoid: return 1.0f / (1.0f + std::exp(-x));
  }
  return x;
}

void check_same_shape(const Tensor& input, const Tensor& output) {
  if (input.shape() != output.shape())
    throw Error("activation: output shape " + shape_to_string(output.shape()) + " differs from input " +
                shape_to_string(input.shape()));
}

}  // namespace

void activation_reference(const Tensor& input, Activation a, Tensor& output) {
  check_same_shape(input, output);
  for (int64_t i = 0; i < input.numel(); ++i) output[i] = activate_one(input[i], a);
}

SPDINFER_VECTOR_CLONES
void apply_activation(float* data, int64_t n, Activation a) {
  switch (a) {
    case Activation::None:
      return;
    case Activation::ReLU:
      for (int64_t i = 0; i < n; ++i) data[i] = relu(data[i]);
      return;
    case Activation::SiLU:
      for (int64_t i = 0; i < n; ++i) data[i] = silu_approx(data[i]);
      return;
    case Activation::Sigmoid:
      for (int64_t i = 0; i < n; ++i) data[i] = sigmoid_approx(data[i]);
      return;
  }
}

SPDINFER_VECTOR_CLONES
void bias_activation(float* c, int64_t rows, int64_t cols, int64_t ld, const float* bias, Activation a) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + r * ld;
    if (bias) {
      const float b = bias[r];
      for (int64_t j = 0; j < cols; ++j) row[j] += b;
    }
    apply_activation(row, cols, a);
  }
}

void activation(const Tensor& input, Activation a, Tensor& output, int threads) {
  check_same_shape(input, output);
  constexpr int64_t kChunk = 1 << 14;
  const int64_t n = input.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const float* in = input.data();
  float* out = output.data();
  parallel_for(chunks, threads, [&](int64_t c) {
    int64_t begin = c * kChunk, len = std::min(kChunk, n - begin);
    if (out != in) std::copy(in + begin, in + begin + len, out + begin);
    apply_activation(out + begin, len, a);
  });
}

Activation activation_attr(const Node& node) { return parse_activation(string_attr(node, "activation", "none")); }

namespace {
class ActivationKernel : public Kernel {
 public:
  ActivationKernel(Activation a, const Shape& input) : a_(a) { output_shape_ = input; }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    activation(*inputs[0], a_, out, threads);
  }

 private:
  Activation a_;
};

template <Activation A>
std::unique_ptr<Kernel> prepare_activation(const Node&, const std::vector<Shape>& s, const std::vector<const Tensor*>&) {
  return std::make_unique<ActivationKernel>(A, s[0]);
}
}  // namespace

OpDef relu_op() { return unary_op("relu", prepare_activation<Activation::ReLU>); }
OpDef silu_op() { return unary_op("silu", prepare_activation<Activation::SiLU>); }
OpDef sigmoid_op() { return unary_op("sigmoid", prepare_activation<Activation::Sigmoid>); }

}  // namespace spdinfer

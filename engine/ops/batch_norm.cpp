// batch_norm: validation, the literal reference, the affine fast path and the folding helpers.
// Scale and shift are computed in double: folding runs once at load time, and an fp32
// gamma / sqrt(var + eps) would add avoidable rounding to every folded weight.
#include "engine/ops/batch_norm.h"

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/parallel.h"

namespace spdinfer {
namespace {

// Checks gamma, beta, mean and var are all (C) for `channels` named by `what`; returns C.
int64_t check_bn_tensors(const char* op, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                         const Tensor& var, int64_t channels, const std::string& what) {
  const Shape expected{channels};
  const std::pair<const char*, const Tensor*> named[] = {
      {"gamma", &gamma}, {"beta", &beta}, {"mean", &mean}, {"var", &var}};
  for (const auto& [name, t] : named)
    if (t->shape() != expected)
      throw Error(std::string(op) + ": " + name + " must have shape " + shape_to_string(expected) + " for " +
                  what + ", found " + shape_to_string(t->shape()));
  return channels;
}

// scale[c] = gamma / sqrt(var + eps), shift[c] = beta - mean * scale, in double.
void affine_double(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var, float eps,
                   std::vector<double>& scale, std::vector<double>& shift) {
  const int64_t C = gamma.numel();
  scale.resize(C);
  shift.resize(C);
  for (int64_t c = 0; c < C; ++c) {
    const double denom = double{var[c]} + eps;
    if (!(denom > 0.0))
      throw Error("batch_norm: var + eps must be positive, found var[" + std::to_string(c) +
                  "] = " + std::to_string(var[c]) + " with eps " + std::to_string(eps));
    scale[c] = gamma[c] / std::sqrt(denom);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
}

int64_t check_bn_call(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                      const Tensor& var, const BatchNormParams& params, const Tensor& out) {
  batch_norm_output_shape(input.shape(), params);
  if (out.shape() != input.shape())
    throw Error("batch_norm: output tensor must have the input's shape " + shape_to_string(input.shape()) +
                ", found " + shape_to_string(out.shape()));
  return check_bn_tensors("batch_norm", gamma, beta, mean, var, input.dim(1),
                          "input " + shape_to_string(input.shape()));
}

}  // namespace

Shape batch_norm_output_shape(const Shape& input, const BatchNormParams& params) {
  if (input.size() != 4 && input.size() != 2)
    throw Error("batch_norm: input must be rank 4 (N, C, H, W) or rank 2 (N, C), found shape " +
                shape_to_string(input));
  shape_numel(input);  // rejects negative dimensions
  if (!(params.eps >= 0.0f) || !std::isfinite(params.eps))
    throw Error("batch_norm: eps must be finite and >= 0, found " + std::to_string(params.eps));
  return input;
}

void batch_norm_reference(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                          const Tensor& var, const BatchNormParams& params, Tensor& out) {
  const int64_t C = check_bn_call(input, gamma, beta, mean, var, params, out);
  const int64_t N = input.dim(0), HW = input.rank() == 4 ? input.dim(2) * input.dim(3) : 1;
  // input (N, C, H, W) or (N, C); per-channel tensors (C)
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t i = 0; i < HW; ++i) {
        const int64_t idx = (n * C + c) * HW + i;
        out[idx] = static_cast<float>(
            (double{input[idx]} - mean[c]) / std::sqrt(double{var[c]} + params.eps) * gamma[c] + beta[c]);
      }
    }
  }
  activation_reference(out, params.activation, out);
}

void batch_norm(const Tensor& input, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                const Tensor& var, const BatchNormParams& params, Tensor& out, int threads) {
  const int64_t C = check_bn_call(input, gamma, beta, mean, var, params, out);
  const int64_t N = input.dim(0), HW = input.rank() == 4 ? input.dim(2) * input.dim(3) : 1;
  std::vector<double> scale, shift;
  affine_double(gamma, beta, mean, var, params.eps, scale, shift);
  const float* in = input.data();
  float* o = out.data();
  // (N, C) input: planes of one element, so hand whole rows to the threads instead.
  const int64_t row = HW == 1 ? C : 1;
  parallel_for(N * C / row, threads, [&](int64_t item) {
    for (int64_t plane = item * row; plane < (item + 1) * row; ++plane) {
      const int64_t c = plane % C;
      const float s = static_cast<float>(scale[c]), t = static_cast<float>(shift[c]);
      const float* src = in + plane * HW;
      float* dst = o + plane * HW;
      for (int64_t i = 0; i < HW; ++i) dst[i] = src[i] * s + t;
    }
    apply_activation(o + item * row * HW, row * HW, params.activation);
  });
}

void batch_norm_to_affine(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                          float eps, Tensor& scale, Tensor& shift) {
  if (gamma.rank() != 1)
    throw Error("batch_norm_to_affine: gamma must be rank 1 (C), found shape " +
                shape_to_string(gamma.shape()));
  const int64_t C = check_bn_tensors("batch_norm_to_affine", gamma, beta, mean, var, gamma.dim(0), "gamma");
  for (Tensor* t : {&scale, &shift}) {
    if (t->shape().empty() && t->empty()) *t = Tensor(Shape{C});
    if (t->shape() != Shape{C})
      throw Error("batch_norm_to_affine: scale and shift must be empty or have shape (" + std::to_string(C) +
                  "), found " + shape_to_string(t->shape()));
  }
  std::vector<double> s, b;
  affine_double(gamma, beta, mean, var, eps, s, b);
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = static_cast<float>(s[c]);
    shift[c] = static_cast<float>(b[c]);
  }
}

void fold_batch_norm_into_conv(Tensor& weight, Tensor& bias, const Tensor& gamma, const Tensor& beta,
                               const Tensor& mean, const Tensor& var, float eps) {
  if (weight.rank() != 4 || weight.dim(0) <= 0)
    throw Error("fold_batch_norm_into_conv: weight must be rank 4 (O, C/groups, kH, kW), found shape " +
                shape_to_string(weight.shape()));
  const int64_t O = weight.dim(0), per_out = weight.numel() / O;
  const std::string what = "conv weight " + shape_to_string(weight.shape());
  check_bn_tensors("fold_batch_norm_into_conv", gamma, beta, mean, var, O, what);
  if (bias.shape() != Shape{O})
    throw Error("fold_batch_norm_into_conv: bias must have shape (" + std::to_string(O) + ") for " + what +
                " (zero-fill one for a conv without bias), found " + shape_to_string(bias.shape()));
  std::vector<double> s, b;
  affine_double(gamma, beta, mean, var, eps, s, b);
  // BN(W x + b) = (s W) x + (s b + shift)
  for (int64_t o = 0; o < O; ++o) {
    float* w = weight.data() + o * per_out;
    for (int64_t i = 0; i < per_out; ++i) w[i] = static_cast<float>(w[i] * s[o]);
    bias[o] = static_cast<float>(bias[o] * s[o] + b[o]);
  }
}

namespace {
class BatchNormKernel : public Kernel {
 public:
  BatchNormKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights)
      : w_(weights) {
    p_.eps = float_attr(node, "eps", 1e-5f);
    p_.activation = activation_attr(node);
    if (input.size() < 2) throw Error("input must be (N, C, ...), found " + shape_to_string(input));
    for (const Tensor* w : weights)
      if (w->shape() != Shape{input[1]})
        throw Error("parameter shape " + shape_to_string(w->shape()) + " does not match " +
                    std::to_string(input[1]) + " channels");
    output_shape_ = input;
  }
  void run(const std::vector<const Tensor*>& inputs, Tensor& out, float*, int threads) const override {
    batch_norm(*inputs[0], *w_[0], *w_[1], *w_[2], *w_[3], p_, out, threads);
  }

 private:
  BatchNormParams p_;
  std::vector<const Tensor*> w_;  // gamma, beta, running_mean, running_var
};
}  // namespace

OpDef batch_norm_op() {
  return unary_op("batch_norm", prepare_weighted_kernel<BatchNormKernel>, 4, 4);
}

}  // namespace spdinfer

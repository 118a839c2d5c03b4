// Adapters from graph nodes to the op functions in engine/ops/: each parses
// its node's attributes once, checks shapes at plan time, and runs the fast
// implementation. Attribute names follow PyTorch's argument names.
#include <cmath>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/graph.h"
#include "engine/ops/activation.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/winograd.h"
#include "engine/ops/flatten.h"
#include "engine/ops/linear.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "engine/ops/space_to_depth.h"
#include "engine/ops/upsample.h"

namespace spdinfer {
namespace {

Activation activation_attr(const Node& node) { return parse_activation(string_attr(node, "activation", "none")); }

void require_rank(const Shape& shape, std::size_t rank, const char* what) {
  if (shape.size() != rank)
    throw Error(std::string(what) + " must have rank " + std::to_string(rank) + ", found " + shape_to_string(shape));
}

// --- conv2d: inputs x; weights weight (O, C/groups, kH, kW) [, bias (O)].
class Conv2dKernel : public Kernel {
 public:
  Conv2dKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights) : input_(input) {
    auto [sh, sw] = pair_attr(node, "stride", 1);
    auto [dh, dw] = pair_attr(node, "dilation", 1);
    auto pad = padding_attr(node, "padding");
    p_.stride_h = sh, p_.stride_w = sw, p_.dilation_h = dh, p_.dilation_w = dw;
    p_.pad_top = pad[0], p_.pad_left = pad[1], p_.pad_bottom = pad[2], p_.pad_right = pad[3];
    p_.groups = int_attr(node, "groups", 1);
    p_.activation = activation_attr(node);
    weight_ = weights[0]->shape();
    if (weights.size() > 1 && weights[1]->shape() != Shape{weight_.at(0)})
      throw Error("bias shape " + shape_to_string(weights[1]->shape()) + " does not match " +
                  std::to_string(weight_.at(0)) + " output channels");
    output_shape_ = conv2d_output_shape(input, weight_, p_);
    // Weights laid out for Winograd or for gemm_packed once, here, rather than on every run.
    if (winograd_applies(input_, weight_, p_))
      winograd_weights_ = WinogradWeights(*weights[0]);
    else if (conv2d_packs_weights(input_, weight_, p_))
      packed_weights_ = conv2d_pack_weights(*weights[0]);
  }
  std::size_t workspace_floats(int threads) const override {
    if (!winograd_weights_.empty()) return winograd_workspace_floats(input_, weight_, p_, threads);
    return conv2d_workspace_floats(input_, weight_, p_, threads, !packed_weights_.empty());
  }
  double macs() const override {
    return static_cast<double>(shape_numel(output_shape_)) * static_cast<double>(weight_[1] * weight_[2] * weight_[3]);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float* ws, int threads) const override {
    const Tensor* bias = args.size() > 2 ? args[2] : nullptr;
    if (!winograd_weights_.empty()) {
      conv2d_winograd(*args[0], winograd_weights_, bias, p_, out, ws, threads);
    } else {
      conv2d(*args[0], *args[1], bias, p_, out, ws, threads,
             packed_weights_.empty() ? nullptr : &packed_weights_);
    }
  }

 private:
  Conv2dParams p_;
  Shape input_, weight_;
  WinogradWeights winograd_weights_;  // empty unless the Winograd path runs this convolution
  GemmPackedA packed_weights_;   // empty unless conv2d_packs_weights for this input shape
};

// --- space_to_depth: inputs x; optional weights scale, shift (4C) of a
// BatchNorm fused after it (a BN after an SPD cannot fold into the conv
// before the SPD).
class SpaceToDepthKernel : public Kernel {
 public:
  SpaceToDepthKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights) {
    p_.block = int_attr(node, "block", 2);
    p_.activation = activation_attr(node);
    output_shape_ = space_to_depth_output_shape(input, p_);
    if (weights.size() == 1) throw Error("takes both scale and shift weights, or neither");
    for (const Tensor* w : weights)
      if (w->shape() != Shape{output_shape_[1]})
        throw Error("affine weight shape " + shape_to_string(w->shape()) + ", expected (" +
                    std::to_string(output_shape_[1]) + ")");
    affine_ = weights.size() == 2;
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    SpaceToDepthParams p = p_;
    if (affine_) p.scale = args[1]->data(), p.shift = args[2]->data();
    space_to_depth(*args[0], p, out, threads);
  }

 private:
  SpaceToDepthParams p_;
  bool affine_ = false;
};

// --- batch_norm: inputs x; weights gamma, beta, running_mean, running_var.
class BatchNormKernel : public Kernel {
 public:
  BatchNormKernel(const Node& node, const Shape& input, const std::vector<const Tensor*>& weights) {
    p_.eps = float_attr(node, "eps", 1e-5f);
    p_.activation = activation_attr(node);
    if (input.size() < 2) throw Error("input must be (N, C, ...), found " + shape_to_string(input));
    for (const Tensor* w : weights)
      if (w->shape() != Shape{input[1]})
        throw Error("parameter shape " + shape_to_string(w->shape()) + " does not match " +
                    std::to_string(input[1]) + " channels");
    output_shape_ = input;
  }
  void run(const std::vector<const Tensor*>& a, Tensor& out, float*, int threads) const override {
    batch_norm(*a[0], *a[1], *a[2], *a[3], *a[4], p_, out, threads);
  }

 private:
  BatchNormParams p_;
};

class ActivationKernel : public Kernel {
 public:
  ActivationKernel(Activation a, const Shape& input) : a_(a) { output_shape_ = input; }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    activation(*args[0], a_, out, threads);
  }

 private:
  Activation a_;
};

class AddKernel : public Kernel {
 public:
  AddKernel(const Node& node, const std::vector<Shape>& in) {
    p_.activation = activation_attr(node);
    output_shape_ = add_output_shape(in[0], in[1]);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    add(*args[0], *args[1], p_, out, threads);
  }

 private:
  AddParams p_;
};

class ConcatKernel : public Kernel {
 public:
  ConcatKernel(const Node& node, const std::vector<Shape>& in) {
    p_.axis = int_attr(node, "axis", 1);
    output_shape_ = concat_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    concat(args, p_, out, threads);
  }

 private:
  ConcatParams p_;
};

class MaxPoolKernel : public Kernel {
 public:
  MaxPoolKernel(const Node& node, const Shape& in) {
    p_ = pool_params_from(node);
    output_shape_ = max_pool2d_output_shape(in, p_);
  }
  // Square windows, as in every network here; PyTorch's stride default is the kernel.
  static Pool2dParams pool_params_from(const Node& node) {
    Pool2dParams p;
    p.kernel = int_attr(node, "kernel_size", 0);
    p.stride = int_attr(node, "stride", p.kernel);
    p.padding = int_attr(node, "padding", 0);
    return p;
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    max_pool2d(*args[0], p_, out, threads);
  }

 private:
  Pool2dParams p_;
};

class AvgPoolKernel : public Kernel {
 public:
  AvgPoolKernel(const Node& node, const Shape& in) {
    p_ = MaxPoolKernel::pool_params_from(node);
    output_shape_ = avg_pool2d_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    avg_pool2d(*args[0], p_, out, threads);
  }

 private:
  Pool2dParams p_;
};

class GlobalAvgPoolKernel : public Kernel {
 public:
  GlobalAvgPoolKernel(const Node& node, const Shape& in) {
    if (int_attr(node, "output_size", 1) != 1) throw Error("only output_size 1 is supported");
    output_shape_ = adaptive_avg_pool2d_output_shape(in);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    adaptive_avg_pool2d(*args[0], out, threads);
  }
};

class UpsampleKernel : public Kernel {
 public:
  UpsampleKernel(const Node& node, const Shape& in) {
    p_.scale = int_attr(node, "scale_factor", 2);
    output_shape_ = upsample_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    upsample(*args[0], p_, out, threads);
  }

 private:
  UpsampleParams p_;
};

class LinearKernel : public Kernel {
 public:
  LinearKernel(const Shape& in, const std::vector<const Tensor*>& weights) {
    const Shape& w = weights[0]->shape();
    output_shape_ = linear_output_shape(in, w, weights.size() > 1 ? &weights[1]->shape() : nullptr);
    macs_ = static_cast<double>(shape_numel(in)) * static_cast<double>(w.at(0));
  }
  double macs() const override { return macs_; }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    linear(*args[0], *args[1], args.size() > 2 ? args[2] : nullptr, out, threads);
  }

 private:
  double macs_ = 0;
};

class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(const Node& node, const Shape& in) {
    p_.axis = int_attr(node, "axis", -1);
    output_shape_ = softmax_output_shape(in, p_);
  }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    softmax(*args[0], p_, out, threads);
  }

 private:
  SoftmaxParams p_;
};

class FlattenKernel : public Kernel {
 public:
  explicit FlattenKernel(const Shape& in) { output_shape_ = flatten_output_shape(in); }
  void run(const std::vector<const Tensor*>& args, Tensor& out, float*, int threads) const override {
    flatten(*args[0], out, threads);
  }
};

OpDef unary(const char* name, std::unique_ptr<Kernel> (*prepare)(const Node&, const std::vector<Shape>&,
                                                                  const std::vector<const Tensor*>&),
            int min_weights = 0, int max_weights = 0) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 1;
  d.min_weights = min_weights;
  d.max_weights = max_weights;
  d.prepare = prepare;
  return d;
}

OpRegistry make_builtin_ops() {
  using W = std::vector<const Tensor*>;
  using S = std::vector<Shape>;
  OpRegistry r;
  r.add(unary("conv2d", [](const Node& n, const S& s, const W& w) -> std::unique_ptr<Kernel> {
    require_rank(s[0], 4, "input");
    return std::make_unique<Conv2dKernel>(n, s[0], w);
  }, 1, 2));
  r.add(unary("space_to_depth", [](const Node& n, const S& s, const W& w) -> std::unique_ptr<Kernel> {
    return std::make_unique<SpaceToDepthKernel>(n, s[0], w);
  }, 0, 2));
  r.add(unary("batch_norm", [](const Node& n, const S& s, const W& w) -> std::unique_ptr<Kernel> {
    return std::make_unique<BatchNormKernel>(n, s[0], w);
  }, 4, 4));
  r.add(unary("relu", [](const Node&, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<ActivationKernel>(Activation::ReLU, s[0]);
  }));
  r.add(unary("silu", [](const Node&, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<ActivationKernel>(Activation::SiLU, s[0]);
  }));
  r.add(unary("sigmoid", [](const Node&, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<ActivationKernel>(Activation::Sigmoid, s[0]);
  }));
  r.add(unary("max_pool2d", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<MaxPoolKernel>(n, s[0]);
  }));
  r.add(unary("avg_pool2d", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<AvgPoolKernel>(n, s[0]);
  }));
  r.add(unary("adaptive_avg_pool2d", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<GlobalAvgPoolKernel>(n, s[0]);
  }));
  r.add(unary("upsample_nearest", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<UpsampleKernel>(n, s[0]);
  }));
  r.add(unary("linear", [](const Node&, const S& s, const W& w) -> std::unique_ptr<Kernel> {
    return std::make_unique<LinearKernel>(s[0], w);
  }, 1, 2));
  r.add(unary("softmax", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<SoftmaxKernel>(n, s[0]);
  }));
  r.add(unary("flatten", [](const Node&, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<FlattenKernel>(s[0]);
  }));

  OpDef add_def = unary("add", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<AddKernel>(n, s);
  });
  add_def.min_inputs = add_def.max_inputs = 2;
  r.add(add_def);
  OpDef concat_def = unary("concat", [](const Node& n, const S& s, const W&) -> std::unique_ptr<Kernel> {
    return std::make_unique<ConcatKernel>(n, s);
  });
  concat_def.max_inputs = -1;
  r.add(concat_def);
  return r;
}

}  // namespace

const OpRegistry& builtin_ops() {
  static const OpRegistry registry = make_builtin_ops();
  return registry;
}

}  // namespace spdinfer

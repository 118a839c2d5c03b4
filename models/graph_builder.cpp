// Shared graph-building blocks for the model families.
#include "models/graph_builder.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops/batch_norm.h"

namespace spdinfer {
namespace {

nlohmann::json conv_attrs(const ConvSpec& s) {
  return {{"stride", s.stride}, {"padding", s.padding}, {"groups", s.groups},
          {"activation", activation_name(s.activation)}};
}

Shape conv_weight_shape(const ConvSpec& s) {
  return {s.out_channels, s.in_channels / std::max(1, s.groups), s.kernel, s.kernel};
}

}  // namespace

std::string GraphBuilder::add_node(Node node) {
  if (def_.nodes.size() >= kMaxGraphNodes)
    throw Error("the architecture builds more than " + std::to_string(kMaxGraphNodes) + " layers");
  std::string out = node.name;
  node.outputs = {out};
  def_.nodes.push_back(std::move(node));
  return out;
}

std::string GraphBuilder::input(const std::string& name) {
  def_.inputs.push_back(name);
  return name;
}

std::string GraphBuilder::quantized_conv(const std::string& name, const std::string& input, const ConvSpec& spec) {
  if (!weights_.has(name + ".weight_int8")) return "";
  auto scale = input_scales_.find(name);
  if (scale == input_scales_.end())
    throw Error(weights_.path() + ": tensor '" + name + ".weight_int8' but no input scale for node '" + name +
                "' in metadata 'quantization'");
  const Shape c{spec.out_channels};
  Tensor weight = weights_.take(name + ".weight_int8", conv_weight_shape(spec));
  Tensor weight_scale = weights_.take(name + ".weight_scale", c);
  Tensor bias = weights_.take(name + ".bias", c);
  const int64_t per_channel = spec.out_channels ? weight.numel() / spec.out_channels : 0;
  for (int64_t o = 0; o < spec.out_channels; ++o) {
    const float s = weight_scale[o];
    if (!(s >= 0))
      throw Error(weights_.path() + ": tensor '" + name + ".weight_scale' holds " + std::to_string(s) +
                  " at index " + std::to_string(o) + " (scales must be >= 0)");
    for (int64_t i = o * per_channel; i < (o + 1) * per_channel; ++i) {
      if (weight[i] < -127 || weight[i] > 127)
        throw Error(weights_.path() + ": tensor '" + name + ".weight_int8' holds " +
                    std::to_string(static_cast<int>(weight[i])) + " at index " + std::to_string(i) +
                    " (symmetric int8 weights lie in [-127, 127])");
      weight[i] *= s;
    }
  }
  store_.emplace(name + ".weight", std::move(weight));
  store_.emplace(name + ".bias", std::move(bias));
  nlohmann::json attrs = conv_attrs(spec);
  if (run_int8_) attrs["input_scale"] = scale->second;
  quantized_nodes_.push_back(name);
  conv_tensors_[name] = {name + ".weight_int8", name + ".weight_scale", name + ".bias"};
  return add_node(Node{name, "conv2d", std::move(attrs), {input}, {name + ".weight", name + ".bias"}, {}});
}

std::string GraphBuilder::conv_bn(const std::string& name, const std::string& input, const std::string& conv_prefix,
                                  const std::string& bn_prefix, const ConvSpec& spec, float eps) {
  std::string quantized = quantized_conv(name, input, spec);
  if (!quantized.empty()) return quantized;
  conv_tensors_[name] = {conv_prefix + ".weight", bn_prefix + ".weight", bn_prefix + ".bias",
                         bn_prefix + ".running_mean", bn_prefix + ".running_var"};
  Tensor weight = weights_.take(conv_prefix + ".weight", conv_weight_shape(spec));
  const Shape c{spec.out_channels};
  Tensor gamma = weights_.take(bn_prefix + ".weight", c);
  Tensor beta = weights_.take(bn_prefix + ".bias", c);
  Tensor mean = weights_.take(bn_prefix + ".running_mean", c);
  Tensor var = weights_.take(bn_prefix + ".running_var", c);
  Tensor bias = Tensor::zeros(c);
  try {
    fold_batch_norm_into_conv(weight, bias, gamma, beta, mean, var, eps);
  } catch (const Error& e) {
    throw Error(weights_.path() + ": " + bn_prefix + ": " + e.what());
  }
  store_.emplace(name + ".weight", std::move(weight));
  store_.emplace(name + ".bias", std::move(bias));
  return add_node(Node{name, "conv2d", conv_attrs(spec), {input}, {name + ".weight", name + ".bias"}, {}});
}

std::string GraphBuilder::conv(const std::string& name, const std::string& input, const std::string& prefix,
                               const ConvSpec& spec, bool with_bias) {
  std::string quantized = quantized_conv(name, input, spec);
  if (!quantized.empty()) return quantized;
  conv_tensors_[name] = {prefix + ".weight"};
  if (with_bias) conv_tensors_[name].push_back(prefix + ".bias");
  store_.emplace(name + ".weight", weights_.take(prefix + ".weight", conv_weight_shape(spec)));
  Node node{name, "conv2d", conv_attrs(spec), {input}, {name + ".weight"}, {}};
  if (with_bias) {
    store_.emplace(name + ".bias", weights_.take(prefix + ".bias", {spec.out_channels}));
    node.weights.push_back(name + ".bias");
  }
  return add_node(std::move(node));
}

std::string GraphBuilder::space_to_depth(const std::string& name, const std::string& input, int64_t in_channels,
                                         const std::string& bn_prefix, float eps, Activation activation) {
  Node node{name, "space_to_depth", {{"block", 2}, {"activation", activation_name(activation)}}, {input}, {}, {}};
  if (!bn_prefix.empty()) {
    const Shape c{4 * in_channels};
    Tensor gamma = weights_.take(bn_prefix + ".weight", c);
    Tensor beta = weights_.take(bn_prefix + ".bias", c);
    Tensor mean = weights_.take(bn_prefix + ".running_mean", c);
    Tensor var = weights_.take(bn_prefix + ".running_var", c);
    Tensor scale, shift;
    try {
      batch_norm_to_affine(gamma, beta, mean, var, eps, scale, shift);
    } catch (const Error& e) {
      throw Error(weights_.path() + ": " + bn_prefix + ": " + e.what());
    }
    store_.emplace(name + ".scale", std::move(scale));
    store_.emplace(name + ".shift", std::move(shift));
    node.weights = {name + ".scale", name + ".shift"};
  }
  return add_node(std::move(node));
}

std::string GraphBuilder::linear(const std::string& name, const std::string& input, const std::string& prefix,
                                 int64_t out_features, int64_t in_features) {
  store_.emplace(name + ".weight", weights_.take(prefix + ".weight", {out_features, in_features}));
  store_.emplace(name + ".bias", weights_.take(prefix + ".bias", {out_features}));
  return add_node(Node{name, "linear", nlohmann::json::object(), {input}, {name + ".weight", name + ".bias"}, {}});
}

std::string GraphBuilder::op(const std::string& name, const std::string& op_name,
                             const std::vector<std::string>& inputs, nlohmann::json attrs) {
  return add_node(Node{name, op_name, std::move(attrs), inputs, {}, {}});
}

}  // namespace spdinfer

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

std::string GraphBuilder::conv_bn(const std::string& name, const std::string& input, const std::string& conv_prefix,
                                  const std::string& bn_prefix, const ConvSpec& spec, float eps) {
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

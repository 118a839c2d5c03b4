// Building blocks the model families share: a convolution with its
// BatchNorm folded in, space_to_depth with the BatchNorm after it fused in,
// and plain ops. Every node's output value takes the node's name, and node
// names follow the PyTorch module names, so golden dumps line up by name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/ops/activation.h"
#include "models/weight_binder.h"

namespace spdinfer {

struct ConvSpec {
  int64_t out_channels = 0, in_channels = 0;
  int kernel = 1, stride = 1, padding = 0, groups = 1;
  Activation activation = Activation::None;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(WeightBinder& weights) : weights_(weights) {}

  std::string input(const std::string& name);
  void output(const std::string& value) { def_.outputs.push_back(value); }
  // A PyTorch module whose output is node `node`'s output under another name.
  void alias(const std::string& module, const std::string& node) { aliases_[module] = node; }

  // Conv2d (weight `conv_prefix.weight`, no bias) then BatchNorm2d
  // (`bn_prefix.*`), folded into one convolution: exact up to rounding.
  std::string conv_bn(const std::string& name, const std::string& input, const std::string& conv_prefix,
                      const std::string& bn_prefix, const ConvSpec& spec, float eps);
  // Conv2d alone; with_bias reads `prefix.bias`.
  std::string conv(const std::string& name, const std::string& input, const std::string& prefix,
                   const ConvSpec& spec, bool with_bias);
  // space_to_depth; with a BatchNorm after it (bn_prefix non-empty) fused in
  // as a per-channel affine, then `activation`.
  std::string space_to_depth(const std::string& name, const std::string& input, int64_t in_channels,
                             const std::string& bn_prefix = "", float eps = 1e-5f,
                             Activation activation = Activation::None);
  std::string linear(const std::string& name, const std::string& input, const std::string& prefix,
                     int64_t out_features, int64_t in_features);
  // Any op without weights.
  std::string op(const std::string& name, const std::string& op_name, const std::vector<std::string>& inputs,
                 nlohmann::json attrs = nlohmann::json::object());

  GraphDef& def() { return def_; }
  WeightStore& weights() { return store_; }
  std::map<std::string, std::string>& aliases() { return aliases_; }
  WeightBinder& binder() { return weights_; }

 private:
  std::string add_node(Node node);

  WeightBinder& weights_;
  GraphDef def_;
  WeightStore store_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace spdinfer

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

  // int8 model files: node -> input scale of the convolutions stored quantised
  // (`NODE.weight_int8`, `NODE.weight_scale`, `NODE.bias`, see models/quantization.h).
  // Their weights are dequantised into the graph either way; `run_int8` also
  // sets each such node's `input_scale`, so that it runs in int8.
  void set_quantization(std::map<std::string, float> input_scales, bool run_int8) {
    input_scales_ = std::move(input_scales);
    run_int8_ = run_int8;
  }
  // Nodes built from quantised tensors, in build order.
  const std::vector<std::string>& quantized_nodes() const { return quantized_nodes_; }
  // Convolution node -> the stored tensors it was built from.
  const std::map<std::string, std::vector<std::string>>& conv_tensors() const { return conv_tensors_; }

  // Conv2d (weight `conv_prefix.weight`, no bias) then BatchNorm2d
  // (`bn_prefix.*`), folded into one convolution: exact up to rounding.
  // Either reads NODE's quantised tensors when the file has them.
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
  // The quantised form of convolution `name`, when the file holds it: its tensors taken,
  // dequantised into the store, and the node made (else "").
  std::string quantized_conv(const std::string& name, const std::string& input, const ConvSpec& spec);

  WeightBinder& weights_;
  GraphDef def_;
  WeightStore store_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, float> input_scales_;
  bool run_int8_ = false;
  std::vector<std::string> quantized_nodes_;
  std::map<std::string, std::vector<std::string>> conv_tensors_;
};

}  // namespace spdinfer

// How the graph finds and runs ops: an explicit table from op name to an
// OpDef (builtin_ops() in op_registry.cpp lists every engine op; each op's
// kernel and OpDef live beside it in engine/ops/<op>.cpp). No self-registering
// statics (they vanish when linked from a static library); a model family
// that needs an op of its own (YOLO's Detect decoding) adds it to its own copy
// of the table, explicitly.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace spdinfer {

struct Node;

// A node's op after its attributes and input shapes were checked: knows its
// output shape and how much scratch memory it needs. Immutable once made, so
// one kernel serves concurrent runs.
class Kernel {
 public:
  virtual ~Kernel() = default;
  const Shape& output_shape() const { return output_shape_; }
  // Floats of scratch memory `run` needs for the given thread count.
  virtual std::size_t workspace_floats(int /*threads*/) const { return 0; }
  // Multiply-accumulates per run, for GFLOP/s reports (0 when negligible).
  virtual double macs() const { return 0.0; }
  // How this kernel computes, when it has a choice ("winograd", "im2col packed"): for per-layer
  // reports. Empty for ops with one way.
  virtual std::string method() const { return {}; }
  // `inputs` holds the node's input values, in order. The weights were bound
  // when the kernel was prepared (they live in the graph's weight store).
  virtual void run(const std::vector<const Tensor*>& inputs, Tensor& output, float* workspace,
                   int threads) const = 0;

 protected:
  Shape output_shape_;
};

// Validates a node's attributes against its input and weight shapes and
// returns its kernel, which keeps what it needs of the weights; throws
// spdinfer::Error saying what is wrong.
using PrepareKernel = std::unique_ptr<Kernel> (*)(const Node& node, const std::vector<Shape>& input_shapes,
                                                  const std::vector<const Tensor*>& weights);

struct OpDef {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: any number
  int min_weights = 0;
  int max_weights = 0;
  PrepareKernel prepare = nullptr;
};

// An op of one input taking between min_weights and max_weights weights.
OpDef unary_op(const char* name, PrepareKernel prepare, int min_weights = 0, int max_weights = 0);

// PrepareKernels for kernels made from the node and its first input's shape,
// K(node, input_shapes[0]), or from those and the weights, K(node, input_shapes[0], weights).
template <class K>
std::unique_ptr<Kernel> prepare_kernel(const Node& node, const std::vector<Shape>& input_shapes,
                                       const std::vector<const Tensor*>&) {
  return std::make_unique<K>(node, input_shapes[0]);
}
template <class K>
std::unique_ptr<Kernel> prepare_weighted_kernel(const Node& node, const std::vector<Shape>& input_shapes,
                                                const std::vector<const Tensor*>& weights) {
  return std::make_unique<K>(node, input_shapes[0], weights);
}

class OpRegistry {
 public:
  void add(OpDef def);
  // nullptr when unknown.
  const OpDef* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, OpDef> ops_;
};

// The engine's own ops: conv2d, space_to_depth, batch_norm, relu, silu,
// sigmoid, add, concat, max_pool2d, avg_pool2d, adaptive_avg_pool2d,
// upsample_nearest, linear, softmax, flatten. Each op's kernel lives beside
// the op in engine/ops/<op>.cpp, which gives its OpDef (conv2d_op(), ...);
// this table lists them (op_registry.cpp).
const OpRegistry& builtin_ops();

}  // namespace spdinfer

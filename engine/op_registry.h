// How the graph finds and runs ops: an explicit table from op name to an
// OpDef. No self-registering statics (they vanish when linked from a static
// library); a model family that needs an op of its own (YOLO's Detect
// decoding) adds it to its own copy of the table, explicitly.
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
  // `args` holds the node's input values followed by its weights, in order.
  virtual void run(const std::vector<const Tensor*>& args, Tensor& output, float* workspace,
                   int threads) const = 0;

 protected:
  Shape output_shape_;
};

struct OpDef {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: any number
  int min_weights = 0;
  int max_weights = 0;
  // Validates the node's attributes against input and weight shapes and
  // returns its kernel; throws spdinfer::Error saying what is wrong.
  std::unique_ptr<Kernel> (*prepare)(const Node& node, const std::vector<Shape>& input_shapes,
                                     const std::vector<const Tensor*>& weights) = nullptr;
};

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
// upsample_nearest, linear, softmax, flatten.
const OpRegistry& builtin_ops();

}  // namespace spdinfer

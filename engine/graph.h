// The graph: a small IR of named nodes, validated when built; shape inference,
// a memory plan and an executor per input shape.
//
//   GraphDef   what a model builder writes: nodes (op name, named attributes,
//              input values, weight names, output value), graph inputs/outputs.
//   Graph      a validated GraphDef plus the weights it owns. Immutable.
//   ExecutionPlan
//              the graph bound to concrete input shapes: every node's kernel
//              and output shape, and where each intermediate lives in one
//              arena (buffers are handed on once their last reader ran).
//
// forward() is const and safe to call from several threads at once: plans are
// built once per input shape under a lock and never change afterwards; each
// run has its own arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/op_registry.h"
#include "engine/prepared_weights.h"
#include "engine/tensor.h"

namespace spdinfer {

// The most nodes a graph may have (a real network has a few hundred; a ResNet of 4 x 1000 blocks
// about 40,000): building and planning are O(n log n), but each node costs a kernel and a name.
constexpr std::size_t kMaxGraphNodes = 50'000;

struct Node {
  std::string name;  // follows the PyTorch module name, e.g. "model.9.cv1"
  std::string op;    // a name in the op registry, e.g. "conv2d"
  nlohmann::json attrs = nlohmann::json::object();
  std::vector<std::string> inputs;   // value names
  std::vector<std::string> weights;  // names in the graph's weight store, in the op's order
  std::vector<std::string> outputs;  // value names; every op here makes exactly one
  // Set by the Graph that owns the node (a fresh one per graph, whatever a copied GraphDef held):
  // where its kernels keep what they derive from its weights, for the plans of every input shape.
  // Null outside a graph: a kernel then derives for itself.
  std::shared_ptr<PreparedWeights> prepared = nullptr;
};

struct GraphDef {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<Node> nodes;
};

using WeightStore = std::map<std::string, Tensor>;

struct RunOptions {
  int threads = 1;
  // Called after each node ran, with its output and wall time; for golden
  // comparison and per-layer timing. The tensor is only valid during the call.
  std::function<void(const Node& node, const Tensor& output, double ms)> observer;
};

class ExecutionPlan {
 public:
  // Values that are graph outputs come back as owned tensors, in graph order.
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs, const RunOptions& options) const;

  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const Shape& value_shape(const std::string& value) const;
  // Node i's output shape, in execution order.
  const Shape& node_output_shape(std::size_t i) const { return kernels_[i]->output_shape(); }
  const Kernel& kernel(std::size_t i) const { return *kernels_[i]; }
  // Bytes of the intermediate arena with buffer reuse, and without it.
  std::size_t planned_bytes() const { return arena_floats_ * sizeof(float); }
  std::size_t unshared_bytes() const { return unshared_floats_ * sizeof(float); }
  // What one run at `threads` threads takes: its input, the arena, the largest workspace and its
  // outputs. run() checks it against the activation-memory budget (engine/memory_budget.h).
  std::size_t activation_bytes(int threads) const;
  double total_macs() const;

 private:
  friend class Graph;
  struct Slot {
    enum Kind { kInput, kArena } kind = kArena;
    std::size_t index = 0;  // input index, or arena offset in floats
  };
  // Scratch memory of one run (the arena and the kernels' workspace), kept
  // for the next run so a steady stream of runs allocates nothing; each run
  // in flight has its own.
  struct Scratch {
    float* arena = nullptr;
    float* workspace = nullptr;
    std::size_t workspace_floats = 0;
    Scratch() = default;
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch();
  };
  std::unique_ptr<Scratch> acquire_scratch(std::size_t workspace_floats) const;
  void release_scratch(std::unique_ptr<Scratch> scratch) const;

  const class Graph* graph_ = nullptr;
  std::vector<Shape> input_shapes_;
  std::vector<std::unique_ptr<Kernel>> kernels_;
  std::map<std::string, Shape> value_shapes_;
  // Values by index: where each lives, and which values each node reads and
  // writes, resolved once so a run does no name lookups.
  std::vector<Slot> value_slots_;
  std::vector<Shape> value_shape_list_;
  std::vector<std::vector<std::size_t>> node_inputs_;
  std::vector<std::size_t> node_output_;
  std::vector<std::size_t> graph_outputs_;
  mutable std::mutex scratch_mutex_;
  mutable std::vector<std::unique_ptr<Scratch>> spare_scratch_;
  std::size_t arena_floats_ = 0;
  std::size_t unshared_floats_ = 0;
};

class Graph {
 public:
  // Validates: every op known and given the right number of inputs, weights
  // and outputs; every input a graph input or an earlier node's output (nodes
  // may come in any order; they are sorted, and a cycle is an error); every
  // weight present; value names unique; graph outputs produced. Nodes that no graph output
  // depends on are dropped.
  Graph(GraphDef def, WeightStore weights, const OpRegistry& ops = builtin_ops(), bool reuse_buffers = true);

  const GraphDef& def() const { return def_; }
  // Nodes in execution order.
  const std::vector<Node>& nodes() const { return def_.nodes; }
  const WeightStore& weights() const { return weights_; }
  const Tensor& weight(const std::string& name) const;
  int64_t parameter_count() const;

  // Shape inference and memory plan for these input shapes; cached. A plan holds its kernels'
  // prepared weights (Winograd transforms, int8 panels) and its arena between runs, tens of MB
  // for a detector, so only the kMaxCachedPlans most recently used stay cached: a stream of
  // images of ever new sizes (photos letterboxed to their aspect ratio) would otherwise grow
  // without bound. A plan dropped from the cache lives on while a run still holds it.
  static constexpr std::size_t kMaxCachedPlans = 4;
  std::shared_ptr<const ExecutionPlan> plan(const std::vector<Shape>& input_shapes) const;
  std::size_t cached_plan_count() const;
  std::vector<Tensor> forward(const std::vector<const Tensor*>& inputs, const RunOptions& options = {}) const;

 private:
  std::shared_ptr<ExecutionPlan> build_plan(const std::vector<Shape>& input_shapes) const;

  GraphDef def_;
  WeightStore weights_;
  const OpRegistry* ops_;
  bool reuse_buffers_;
  struct CachedPlan {
    std::vector<Shape> input_shapes;
    std::shared_ptr<const ExecutionPlan> plan;
    uint64_t last_used = 0;
  };
  mutable std::mutex plans_mutex_;
  mutable std::vector<CachedPlan> plans_;  // at most kMaxCachedPlans
  mutable uint64_t plan_requests_ = 0;
};

}  // namespace spdinfer

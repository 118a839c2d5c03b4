// Graph validation, shape inference, memory planning and execution.
#include "engine/graph.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "engine/attributes.h"
#include "engine/error.h"
#include "engine/memory_budget.h"
#include "engine/memory_plan.h"

namespace spdinfer {
namespace {

std::string describe(const Node& node) { return "node '" + node.name + "' (" + node.op + ")"; }

std::string arity_text(int min, int max) {
  if (max < 0) return "at least " + std::to_string(min);
  if (min == max) return std::to_string(min);
  return std::to_string(min) + " to " + std::to_string(max);
}

void check_arity(const Node& node, const char* what, std::size_t count, int min, int max) {
  const int n = static_cast<int>(count);
  if (n < min || (max >= 0 && n > max))
    throw Error("graph: " + describe(node) + " takes " + arity_text(min, max) + " " + what + ", got " +
                std::to_string(n));
}

// Orders nodes so each comes after the producers of its inputs, keeping the
// given order where it already is one (Kahn's algorithm, lowest index first).
std::vector<Node> topological_order(std::vector<Node> nodes, const std::set<std::string>& graph_inputs) {
  std::map<std::string, std::size_t> producer;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (const auto& out : nodes[i].outputs) producer[out] = i;

  std::vector<std::vector<std::size_t>> readers(nodes.size());
  std::vector<int> pending(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& in : nodes[i].inputs) {
      if (graph_inputs.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        throw Error("graph: " + describe(nodes[i]) + " reads '" + in +
                    "', which is neither a graph input nor any node's output");
      readers[it->second].push_back(i);
      ++pending[i];
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (pending[i] == 0) ready.insert(i);
  std::vector<Node> ordered;
  ordered.reserve(nodes.size());
  while (!ready.empty()) {
    std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    for (std::size_t r : readers[i])
      if (--pending[r] == 0) ready.insert(r);
    ordered.push_back(std::move(nodes[i]));
  }
  if (ordered.size() != nodes.size()) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (pending[i] > 0) throw Error("graph: cycle through " + describe(nodes[i]));
  }
  return ordered;
}

// The nodes some graph output depends on, in their order: a node whose output nothing requested
// reads would only cost time and memory (a layer appended after a detector's head could take
// gigabytes for a tensor nobody looks at). `nodes` is in execution order.
std::vector<Node> drop_unused_nodes(std::vector<Node> nodes, const std::vector<std::string>& outputs) {
  std::set<std::string> needed(outputs.begin(), outputs.end());
  std::vector<bool> keep(nodes.size(), false);
  for (std::size_t i = nodes.size(); i-- > 0;) {
    if (!needed.count(nodes[i].outputs[0])) continue;
    keep[i] = true;
    needed.insert(nodes[i].inputs.begin(), nodes[i].inputs.end());
  }
  std::vector<Node> used;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (keep[i]) used.push_back(std::move(nodes[i]));
  return used;
}

std::size_t bytes_of(const Shape& shape) { return static_cast<std::size_t>(shape_numel(shape)) * sizeof(float); }

// Where a concat input lives when its producer writes it straight into the concat's output.
struct ConcatHome {
  std::string concat_output;
  std::size_t offset = 0;  // floats from the start of the concat's output
};

// Concatenations that copy nothing: their inputs are planned inside their output, so each
// input's producer writes it where the concat keeps it and the concat finds it there
// (engine/ops/concat.cpp then skips the copy). That needs each input to be one contiguous range
// of the output (only size-1 dimensions before the axis: a batch-1 channel concat, as YOLO's
// C3 blocks, heads and Detect outputs are), made by a node of this graph, the input of no other
// such concat and not itself one's output (one home each, no nesting), listed once, and starting
// on a 64-byte boundary as every arena value does (kernels may rely on it). The rest copy.
std::map<std::string, ConcatHome> concat_homes(const GraphDef& def, const std::map<std::string, Shape>& shapes) {
  std::set<std::string> produced;
  for (const Node& node : def.nodes) produced.insert(node.outputs[0]);
  std::map<std::string, ConcatHome> homes;
  std::set<std::string> concat_outputs;
  for (const Node& node : def.nodes) {
    if (node.op != "concat") continue;
    const Shape& out = shapes.at(node.outputs[0]);
    const int rank = static_cast<int>(out.size());
    const int axis_attr = int_attr(node, "axis", 1), axis = axis_attr < 0 ? axis_attr + rank : axis_attr;
    bool contiguous = axis >= 0 && axis < rank;
    for (int d = 0; contiguous && d < axis; ++d) contiguous = out[d] == 1;
    std::set<std::string> seen;
    std::vector<std::size_t> offsets;
    std::size_t offset = 0;
    bool placeable = contiguous;
    for (const std::string& in : node.inputs) {
      placeable = placeable && produced.count(in) && !homes.count(in) && !concat_outputs.count(in) &&
                  seen.insert(in).second && offset % 16 == 0;
      offsets.push_back(offset);
      offset += static_cast<std::size_t>(shape_numel(shapes.at(in)));
    }
    if (!placeable) continue;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) homes[node.inputs[i]] = {node.outputs[0], offsets[i]};
    concat_outputs.insert(node.outputs[0]);
  }
  return homes;
}

}  // namespace

Graph::Graph(GraphDef def, WeightStore weights, const OpRegistry& ops, bool reuse_buffers)
    : weights_(std::move(weights)), ops_(&ops), reuse_buffers_(reuse_buffers) {
  std::set<std::string> values(def.inputs.begin(), def.inputs.end());
  if (values.size() != def.inputs.size()) throw Error("graph: duplicate graph input name");
  if (def.inputs.empty()) throw Error("graph: no graph inputs");
  std::set<std::string> node_names;
  for (const Node& node : def.nodes) {
    if (node.name.empty()) throw Error("graph: a node of op '" + node.op + "' has no name");
    if (!node_names.insert(node.name).second) throw Error("graph: two nodes are named '" + node.name + "'");
    const OpDef* op = ops.find(node.op);
    if (!op) throw Error("graph: " + describe(node) + ": unknown op '" + node.op + "'");
    check_arity(node, "inputs", node.inputs.size(), op->min_inputs, op->max_inputs);
    check_arity(node, "weights", node.weights.size(), op->min_weights, op->max_weights);
    check_arity(node, "outputs", node.outputs.size(), 1, 1);
    for (const auto& w : node.weights)
      if (!weights_.count(w)) throw Error("graph: " + describe(node) + ": weight '" + w + "' is missing");
    for (const auto& out : node.outputs)
      if (!values.insert(out).second)
        throw Error("graph: " + describe(node) + ": value '" + out + "' is produced twice");
  }
  if (def.outputs.empty()) throw Error("graph: no graph outputs");
  for (const auto& out : def.outputs)
    if (!values.count(out)) throw Error("graph: output '" + out + "' is not produced by any node");

  std::set<std::string> graph_inputs(def.inputs.begin(), def.inputs.end());
  def.nodes = drop_unused_nodes(topological_order(std::move(def.nodes), graph_inputs), def.outputs);
  for (Node& node : def.nodes) node.prepared = std::make_shared<PreparedWeights>();
  def_ = std::move(def);
}

const Tensor& Graph::weight(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) throw Error("graph: no weight named '" + name + "'");
  return it->second;
}

int64_t Graph::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : weights_) n += t.numel();
  return n;
}

std::shared_ptr<const ExecutionPlan> Graph::plan(const std::vector<Shape>& input_shapes) const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  const uint64_t now = ++plan_requests_;
  for (CachedPlan& cached : plans_) {
    if (cached.input_shapes == input_shapes) {
      cached.last_used = now;
      return cached.plan;
    }
  }
  std::shared_ptr<const ExecutionPlan> p = build_plan(input_shapes);
  if (plans_.size() >= kMaxCachedPlans) {
    auto oldest = std::min_element(plans_.begin(), plans_.end(), [](const CachedPlan& a, const CachedPlan& b) {
      return a.last_used < b.last_used;
    });
    plans_.erase(oldest);
  }
  plans_.push_back({input_shapes, p, now});
  return p;
}

std::size_t Graph::cached_plan_count() const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  return plans_.size();
}

std::shared_ptr<ExecutionPlan> Graph::build_plan(const std::vector<Shape>& input_shapes) const {
  if (input_shapes.size() != def_.inputs.size())
    throw Error("graph: expected " + std::to_string(def_.inputs.size()) + " inputs, got " +
                std::to_string(input_shapes.size()));
  auto plan = std::make_shared<ExecutionPlan>();
  plan->graph_ = this;
  plan->input_shapes_ = input_shapes;
  for (std::size_t i = 0; i < input_shapes.size(); ++i) {
    shape_numel(input_shapes[i]);  // rejects negative or overflowing shapes
    plan->value_shapes_[def_.inputs[i]] = input_shapes[i];
  }

  // Shape inference: every kernel is prepared (attributes and shapes checked)
  // before any memory is planned or touched.
  const int steps = static_cast<int>(def_.nodes.size());
  for (const Node& node : def_.nodes) {
    std::vector<Shape> in_shapes;
    for (const auto& in : node.inputs) in_shapes.push_back(plan->value_shapes_.at(in));
    std::vector<const Tensor*> node_weights;
    for (const auto& w : node.weights) node_weights.push_back(&weights_.at(w));
    std::unique_ptr<Kernel> kernel;
    try {
      kernel = ops_->find(node.op)->prepare(node, in_shapes, node_weights);
    } catch (const Error& e) {
      throw Error(describe(node) + ": " + e.what());
    } catch (const nlohmann::json::exception& e) {
      throw Error(describe(node) + ": bad attribute: " + e.what());
    }
    if (shape_numel(kernel->output_shape()) == 0)
      throw Error(describe(node) + ": output shape " + shape_to_string(kernel->output_shape()) + " is empty");
    // One value over the budget refuses the plan before its arena is laid out, so the arena's
    // offsets (sums of at most kMaxGraphNodes such values) cannot overflow.
    try {
      check_memory_budget(bytes_of(kernel->output_shape()), "its output " + shape_to_string(kernel->output_shape()));
    } catch (const Error& e) {
      throw Error(describe(node) + " " + e.what());
    }
    plan->value_shapes_[node.outputs[0]] = kernel->output_shape();
    plan->kernels_.push_back(std::move(kernel));
  }

  // Lifetimes: from the producing step to the last reading step; graph
  // outputs stay live to the end.
  std::map<std::string, std::size_t> request_of;
  std::vector<BufferRequest> requests;
  for (int step = 0; step < steps; ++step) {
    const Node& node = def_.nodes[step];
    request_of[node.outputs[0]] = requests.size();
    requests.push_back({static_cast<std::size_t>(shape_numel(plan->kernels_[step]->output_shape())), step, step});
    for (const auto& in : node.inputs) {
      auto it = request_of.find(in);
      if (it != request_of.end()) requests[it->second].last_step = step;
    }
  }
  for (const auto& out : def_.outputs) {
    auto it = request_of.find(out);
    if (it != request_of.end()) requests[it->second].last_step = steps;
  }
  // A concat's output that holds its inputs lives from the first input's producer to the last
  // reader of any of them; the inputs get no memory of their own.
  const std::map<std::string, ConcatHome> homes =
      reuse_buffers_ ? concat_homes(def_, plan->value_shapes_) : std::map<std::string, ConcatHome>{};
  for (const auto& [value, home] : homes) {
    const BufferRequest& part = requests[request_of.at(value)];
    BufferRequest& whole = requests[request_of.at(home.concat_output)];
    whole.first_step = std::min(whole.first_step, part.first_step);
    whole.last_step = std::max(whole.last_step, part.last_step);
  }
  std::vector<BufferRequest> own;  // the values with memory of their own
  std::map<std::string, std::size_t> own_index;
  for (const auto& [value, index] : request_of)
    if (!homes.count(value)) {
      own_index[value] = own.size();
      own.push_back(requests[index]);
    }
  // A node's output must not share memory with its own inputs: lifetimes that
  // touch at a step overlap, which plan_memory already honours.
  MemoryPlan memory = plan_memory(own, reuse_buffers_);
  std::map<std::string, ExecutionPlan::Slot> slots;
  for (std::size_t i = 0; i < def_.inputs.size(); ++i) slots[def_.inputs[i]] = {ExecutionPlan::Slot::kInput, i};
  for (const auto& [value, index] : own_index) slots[value] = {ExecutionPlan::Slot::kArena, memory.offsets[index]};
  for (const auto& [value, home] : homes)
    slots[value] = {ExecutionPlan::Slot::kArena, memory.offsets[own_index.at(home.concat_output)] + home.offset};
  std::map<std::string, std::size_t> value_index;
  for (const auto& [value, slot] : slots) {
    value_index[value] = plan->value_slots_.size();
    plan->value_slots_.push_back(slot);
    plan->value_shape_list_.push_back(plan->value_shapes_.at(value));
  }
  for (const Node& node : def_.nodes) {
    std::vector<std::size_t> ins;
    for (const auto& in : node.inputs) ins.push_back(value_index.at(in));
    plan->node_inputs_.push_back(std::move(ins));
    plan->node_output_.push_back(value_index.at(node.outputs[0]));
  }
  for (const auto& out : def_.outputs) plan->graph_outputs_.push_back(value_index.at(out));
  plan->arena_floats_ = memory.arena_floats;
  for (const auto& r : requests) plan->unshared_floats_ += r.floats;
  check_layer_output_total(plan->unshared_bytes());
  return plan;
}

std::vector<Tensor> Graph::forward(const std::vector<const Tensor*>& inputs, const RunOptions& options) const {
  std::vector<Shape> shapes;
  for (const Tensor* t : inputs) {
    if (!t) throw Error("graph: null input tensor");
    shapes.push_back(t->shape());
  }
  return plan(shapes)->run(inputs, options);
}

const Shape& ExecutionPlan::value_shape(const std::string& value) const {
  auto it = value_shapes_.find(value);
  if (it == value_shapes_.end()) throw Error("graph: no value named '" + value + "'");
  return it->second;
}

std::size_t ExecutionPlan::activation_bytes(int threads) const {
  std::size_t workspace_floats = 0;
  for (const auto& k : kernels_) workspace_floats = std::max(workspace_floats, k->workspace_floats(std::max(1, threads)));
  std::size_t bytes = planned_bytes() + workspace_floats * sizeof(float);
  for (const Shape& s : input_shapes_) bytes += bytes_of(s);
  for (std::size_t v : graph_outputs_) bytes += bytes_of(value_shape_list_[v]);
  return bytes;
}

double ExecutionPlan::total_macs() const {
  double macs = 0;
  for (const auto& k : kernels_) macs += k->macs();
  return macs;
}

ExecutionPlan::Scratch::~Scratch() {
  aligned_free_floats(arena);
  aligned_free_floats(workspace);
}

std::unique_ptr<ExecutionPlan::Scratch> ExecutionPlan::acquire_scratch(std::size_t workspace_floats) const {
  std::unique_ptr<Scratch> scratch;
  {
    std::lock_guard<std::mutex> lock(scratch_mutex_);
    if (!spare_scratch_.empty()) {
      scratch = std::move(spare_scratch_.back());
      spare_scratch_.pop_back();
    }
  }
  if (!scratch) {
    scratch = std::make_unique<Scratch>();
    scratch->arena = aligned_alloc_floats(arena_floats_);
  }
  if (scratch->workspace_floats < workspace_floats) {
    aligned_free_floats(scratch->workspace);
    scratch->workspace = nullptr;
    scratch->workspace = aligned_alloc_floats(workspace_floats);
    scratch->workspace_floats = workspace_floats;
  }
  return scratch;
}

void ExecutionPlan::release_scratch(std::unique_ptr<Scratch> scratch) const {
  std::lock_guard<std::mutex> lock(scratch_mutex_);
  spare_scratch_.push_back(std::move(scratch));
}

std::vector<Tensor> ExecutionPlan::run(const std::vector<const Tensor*>& inputs, const RunOptions& options) const {
  const GraphDef& def = graph_->def();
  if (inputs.size() != input_shapes_.size())
    throw Error("graph: expected " + std::to_string(input_shapes_.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!inputs[i] || inputs[i]->shape() != input_shapes_[i])
      throw Error("graph: input '" + def.inputs[i] + "' has shape " +
                  (inputs[i] ? shape_to_string(inputs[i]->shape()) : "null") + ", the plan expects " +
                  shape_to_string(input_shapes_[i]));
  const int threads = std::max(1, options.threads);

  std::size_t workspace_floats = 0;
  for (const auto& k : kernels_) workspace_floats = std::max(workspace_floats, k->workspace_floats(threads));
  check_memory_budget(activation_bytes(threads),
                      "input, " + memory_size_text(planned_bytes()) + " of layer outputs, " +
                          memory_size_text(workspace_floats * sizeof(float)) + " of workspace for " +
                          std::to_string(threads) + (threads == 1 ? " thread" : " threads") + ", outputs");
  std::unique_ptr<Scratch> scratch = acquire_scratch(workspace_floats);

  // Views of every value: graph inputs as given, the rest in the arena.
  std::vector<Tensor> values;
  values.reserve(value_slots_.size());
  for (std::size_t v = 0; v < value_slots_.size(); ++v) {
    const Slot& slot = value_slots_[v];
    float* base = slot.kind == Slot::kInput ? const_cast<float*>(inputs[slot.index]->data())
                                            : scratch->arena + slot.index;
    values.push_back(Tensor::view(base, value_shape_list_[v]));
  }

  using Clock = std::chrono::steady_clock;
  std::vector<const Tensor*> args;
  for (std::size_t i = 0; i < def.nodes.size(); ++i) {
    args.clear();
    for (std::size_t v : node_inputs_[i]) args.push_back(&values[v]);
    Tensor& output = values[node_output_[i]];
    const auto start = options.observer ? Clock::now() : Clock::time_point{};
    kernels_[i]->run(args, output, scratch->workspace, threads);
    if (options.observer) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
      options.observer(def.nodes[i], output, ms);
    }
  }

  std::vector<Tensor> outputs;
  for (std::size_t v : graph_outputs_) outputs.push_back(values[v].clone());
  release_scratch(std::move(scratch));
  return outputs;
}

}  // namespace spdinfer

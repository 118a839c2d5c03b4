// The op table, and the engine's ops listed in it.
#include "engine/op_registry.h"

#include "engine/error.h"
#include "engine/ops/activation.h"
#include "engine/ops/add.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/flatten.h"
#include "engine/ops/linear.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "engine/ops/space_to_depth.h"
#include "engine/ops/upsample.h"

namespace spdinfer {

void OpRegistry::add(OpDef def) {
  if (!def.prepare) throw Error("op '" + def.name + "' has no prepare function");
  ops_[def.name] = std::move(def);
}

const OpDef* OpRegistry::find(const std::string& name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, def] : ops_) out.push_back(name);
  return out;
}

OpDef unary_op(const char* name, PrepareKernel prepare, int min_weights, int max_weights) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 1;
  d.min_weights = min_weights;
  d.max_weights = max_weights;
  d.prepare = prepare;
  return d;
}

const OpRegistry& builtin_ops() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    for (OpDef d : {conv2d_op(), space_to_depth_op(), batch_norm_op(), relu_op(), silu_op(), sigmoid_op(),
                    add_op(), concat_op(), max_pool2d_op(), avg_pool2d_op(), adaptive_avg_pool2d_op(),
                    upsample_nearest_op(), linear_op(), softmax_op(), flatten_op()})
      r.add(std::move(d));
    return r;
  }();
  return registry;
}

}  // namespace spdinfer

#include "models/detect_strides.h"

#include "engine/error.h"

namespace spdinfer {
namespace {

// What a chain of stride-s convolutions (padding k/2) and space-to-depth steps makes of `side`.
int64_t feature_side(int64_t side, int64_t stride) { return (side + stride - 1) / stride; }

}  // namespace

void check_detect_strides(const Model& model) {
  const int64_t height = model.preprocess.height, width = model.preprocess.width;
  std::shared_ptr<const ExecutionPlan> plan;
  try {
    plan = model.graph->plan({{1, 3, height, width}});
  } catch (const Error&) {
    return;  // the model cannot run at its own input size: every run says why, naming the model
  }
  int level = 0;
  for (const Node& node : model.graph->nodes()) {
    if (node.op != "yolo_decode") continue;
    const int64_t stride = node.attrs.value("stride", int64_t{0});
    const Shape& map = plan->value_shape(node.inputs.at(0));
    if (map.size() == 4 && (map[2] != feature_side(height, stride) || map[3] != feature_side(width, stride))) {
      const std::string actual = map[2] > 0 && height % map[2] == 0 ? " (stride " + std::to_string(height / map[2]) + ")" : "";
      throw Error(model.path + ": Detect level " + std::to_string(level) + " ('" + node.name + "') has stride " +
                  std::to_string(stride) + ", but the network turns its " + std::to_string(height) + "x" +
                  std::to_string(width) + " input into a " + std::to_string(map[2]) + "x" + std::to_string(map[3]) +
                  " feature map" + actual);
    }
    ++level;
  }
}

}  // namespace spdinfer

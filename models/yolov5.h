// YOLOv5-family graph builder: standard YOLOv5 v6/v7 (yolov5n/s/m/l/x) and
// the SPD-Conv fork (space_depth_n/s/m/l) from one code path, reading the
// model's YAML description the way the reference's parse_model does.
// Node names are the module names: model.9.cv1, model.24.m.0, ...; a
// top-level layer model.i whose output comes from an inner node is an alias.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "models/graph_builder.h"
#include "models/yolo_detect_op.h"

namespace spdinfer {

// Returns the detection strides. Throws spdinfer::Error naming the layer
// index and module for anything it cannot build exactly.
std::vector<int> build_yolov5(const nlohmann::json& architecture, GraphBuilder& g);

}  // namespace spdinfer

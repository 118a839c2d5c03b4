// ResNet-SPD (the SPD-Conv paper's classifier): Focus stem, four stages of
// Bottleneck or BasicBlock blocks whose stride-2 blocks downsample with
// space_to_depth, global average pooling and a linear classifier. Node names
// are the reference module names: conv1, conv3_x.0, conv3_x.0.residual_function,
// conv3_x.0.shortcut, avg_pool, fc.
#pragma once

#include <nlohmann/json.hpp>

#include "models/graph_builder.h"

namespace spdinfer {

// Architecture keys: see docs/design.md (family resnet_spd). Throws
// spdinfer::Error naming the key, or the file and tensor, on anything wrong.
void build_resnet_spd(const nlohmann::json& architecture, GraphBuilder& g);

}  // namespace spdinfer

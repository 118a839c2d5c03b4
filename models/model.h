// A loaded model: the model file's description (family, architecture,
// preprocessing, class names) and the graph built from it. One Model is
// loaded once and may serve many images from many threads.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/model_file.h"

namespace spdinfer {

struct Preprocess {
  int height = 0, width = 0;
  float scale = 1.0f;                  // multiplies 0-255 pixel values first
  std::array<float, 3> mean{0, 0, 0};  // then (x - mean) / std, per RGB channel
  std::array<float, 3> std{1, 1, 1};
  std::string resize = "resize";       // "letterbox", "resize_crop" or "resize"
};

struct Model {
  std::string path;
  std::string family;  // "resnet_spd" or "yolov5"
  nlohmann::json architecture;
  Preprocess preprocess;
  std::vector<std::string> class_names;
  std::map<std::string, std::string> metadata;
  std::vector<TensorInfo> tensors;  // as stored in the file
  std::unique_ptr<Graph> graph;
  // PyTorch module name -> node whose output that module's output is, for
  // modules that end in a node named after an inner module.
  std::map<std::string, std::string> aliases;
  std::vector<int> strides;  // YOLO: per detection level

  // The node that computes PyTorch module `module`'s output, or "" if none.
  std::string node_for_module(const std::string& module) const;
};

// Reads, validates and builds; throws spdinfer::Error("PATH: ...").
Model load_model(const std::string& path);
// Builds from a model file already read (its weights are moved into the graph).
Model build_model(ModelFile file);

}  // namespace spdinfer

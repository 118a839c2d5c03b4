// A loaded model: the model file's description (family, architecture,
// preprocessing, class names) and the graph built from it. One Model is
// loaded once and may serve many images from many threads.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/graph.h"
#include "engine/model_file.h"
#include "image/preprocess.h"

namespace spdinfer {

// The model families a file can hold; its metadata's "family" string is
// checked once, when the model is loaded.
enum class Family {
  kResNetSpd,  // "resnet_spd": a classifier (Classifier, models/classifier.h)
  kYoloV5,     // "yolov5": a YOLOv5-family detector (Detector, models/detector.h)
};
// The name the model file's metadata uses: "resnet_spd" or "yolov5".
const char* family_name(Family family);

// Which precision a model runs in. kFile: the file's own (int8 convolutions when it is an int8
// file from `spdinfer calibrate`, else fp32). kFp32 on an int8 file: its int8 weights
// dequantised, computed in float (weight error without activation error). kInt8 on an fp32
// file is refused (there are no scales to run it with).
enum class Precision { kFile, kFp32, kInt8 };
// "fp32" -> kFp32, "int8" -> kInt8; throws spdinfer::Error otherwise.
Precision parse_precision(const std::string& name);

struct LoadOptions {
  Precision precision = Precision::kFile;
};

struct Model {
  std::string path;
  Family family = Family::kResNetSpd;
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
  // int8: the file's quantised convolutions, and whether they run in int8 (their nodes carry
  // `input_scale`) or in float.
  bool int8_file = false;
  bool runs_int8 = false;
  std::vector<std::string> quantized_nodes;
  // Convolution node -> the stored tensors it was built from (what calibrate replaces).
  std::map<std::string, std::vector<std::string>> conv_tensors;

  // "int8" or "fp32": what the convolutions compute in.
  const char* precision() const { return runs_int8 ? "int8" : "fp32"; }

  // The node that computes PyTorch module `module`'s output, or "" if none.
  std::string node_for_module(const std::string& module) const;
};

// f() with an engine error from it rethrown as ModelError "MODEL: at input SHAPE: ...": what
// planning or running the model at `input` throws is the model's fault, not its input file's.
template <class F>
auto blaming_model(const Model& m, const Shape& input, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ModelError&) {
    throw;
  } catch (const Error& e) {
    throw ModelError(m.path + ": at input " + shape_to_string(input) + ": " + e.what());
  }
}

// m.graph->forward on the (N, 3, H, W) input x with `threads`, blaming_model. Thread-safe.
std::vector<Tensor> forward_input(const Model& m, const Tensor& x, int threads);

// Reads, validates and builds; throws spdinfer::Error("PATH: ...").
Model load_model(const std::string& path, const LoadOptions& options = {});
// Builds from a model file already read (its weights are moved into the graph).
Model build_model(ModelFile file, const LoadOptions& options = {});

}  // namespace spdinfer

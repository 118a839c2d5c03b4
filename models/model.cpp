// Model loading: file -> metadata -> family builder -> graph.
#include "models/model.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/json_checked.h"
#include "engine/memory_budget.h"
#include "models/detect_strides.h"
#include "models/quantization.h"
#include "models/resnet_spd.h"
#include "models/yolov5.h"

namespace spdinfer {
namespace {

nlohmann::json parse_json_meta(const ModelFile& file, const std::string& key) {
  return parse_json_checked(file.path, "metadata '" + key + "'", file.meta(key), kMetadataJsonLimits);
}

std::array<float, 3> triple(const std::string& path, const nlohmann::json& j, const char* key,
                            std::array<float, 3> fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_array() || it->size() != 3 || !(*it)[0].is_number() || !(*it)[1].is_number() || !(*it)[2].is_number())
    throw Error(path + ": preprocess '" + key + "' must be a list of 3 numbers");
  return {(*it)[0].get<float>(), (*it)[1].get<float>(), (*it)[2].get<float>()};
}

Preprocess parse_preprocess(const std::string& path, const nlohmann::json& j) {
  Preprocess p;
  if (!j.is_object()) throw Error(path + ": metadata 'preprocess' is not a JSON object");
  auto size = j.find("input_size");
  if (size == j.end() || !size->is_array() || size->size() != 2 || !(*size)[0].is_number_integer() ||
      !(*size)[1].is_number_integer() || (*size)[0].get<int64_t>() <= 0 || (*size)[1].get<int64_t>() <= 0 ||
      (*size)[0].get<int64_t>() > 16384 || (*size)[1].get<int64_t>() > 16384)
    throw Error(path + ": preprocess 'input_size' must be [height, width], positive integers up to 16384");
  p.height = (*size)[0].get<int>();
  p.width = (*size)[1].get<int>();
  if (j.contains("scale")) {
    if (!j["scale"].is_number()) throw Error(path + ": preprocess 'scale' must be a number");
    p.scale = j["scale"].get<float>();
  }
  p.mean = triple(path, j, "mean", p.mean);
  p.std = triple(path, j, "std", p.std);
  for (float s : p.std)
    if (!(s > 0.0f)) throw Error(path + ": preprocess 'std' must be positive");
  if (j.contains("resize")) {
    if (!j["resize"].is_string()) throw Error(path + ": preprocess 'resize' must be a string");
    p.resize = j["resize"].get<std::string>();
    if (p.resize != "letterbox" && p.resize != "resize_crop" && p.resize != "resize")
      throw Error(path + ": preprocess 'resize' is '" + p.resize + "' (expected letterbox, resize_crop or resize)");
  }
  return p;
}

// The error with "PATH: " in front unless it already names the file: every refusal of a model
// file reads `PATH: what is wrong` (the weight binder's messages name it already; the
// architecture builders' and the graph's do not know it).
Error naming_file(const std::string& path, const Error& e) {
  const std::string message = e.what();
  if (message.rfind(path + ": ", 0) == 0) return e;
  return Error(path + ": " + message);
}

}  // namespace

std::string Model::node_for_module(const std::string& module) const {
  auto it = aliases.find(module);
  if (it != aliases.end()) return it->second;
  for (const Node& n : graph->nodes())
    if (n.name == module) return module;
  return "";
}

const char* family_name(Family family) {
  return family == Family::kYoloV5 ? "yolov5" : "resnet_spd";
}

std::vector<Tensor> forward_input(const Model& m, const Tensor& x, int threads) {
  RunOptions run;
  run.threads = threads;
  return blaming_model(m, x.shape(), [&] { return m.graph->forward({&x}, run); });
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "int8") return Precision::kInt8;
  throw Error("unknown precision '" + name + "' (expected int8 or fp32)");
}

Model load_model(const std::string& path, const LoadOptions& options) {
  return build_model(read_model_file(path), options);
}

Model build_model(ModelFile file, const LoadOptions& options) {
  const std::string path = file.path;
  Model m;
  m.path = path;
  const std::string family = file.meta("family");
  m.metadata = file.metadata;
  m.tensors = file.tensors;
  m.architecture = parse_json_meta(file, "architecture");
  if (!m.architecture.is_object()) throw Error(path + ": metadata 'architecture' is not a JSON object");
  m.preprocess = parse_preprocess(path, parse_json_meta(file, "preprocess"));
  // The input tensor is made (letterboxed, resized) before any plan sees it.
  try {
    check_memory_budget(std::size_t{3} * m.preprocess.height * m.preprocess.width * sizeof(float),
                        "one input of its input_size " + std::to_string(m.preprocess.height) + "x" +
                            std::to_string(m.preprocess.width));
  } catch (const Error& e) {
    throw Error(path + ": preprocess " + e.what());
  }
  if (file.metadata.count("class_names")) {
    nlohmann::json names = parse_json_meta(file, "class_names");
    if (!names.is_array()) throw Error(path + ": metadata 'class_names' is not a JSON list");
    for (const auto& n : names) {
      if (!n.is_string()) throw Error(path + ": metadata 'class_names' holds a non-string");
      m.class_names.push_back(n.get<std::string>());
    }
  }

  if (family == family_name(Family::kResNetSpd))
    m.family = Family::kResNetSpd;
  else if (family == family_name(Family::kYoloV5))
    m.family = Family::kYoloV5;
  else
    throw Error(path + ": unknown model family '" + family + "' (expected resnet_spd or yolov5)");
  QuantizationInfo quantization;
  m.int8_file = file.metadata.count("quantization") > 0;
  if (m.int8_file) quantization = parse_quantization(path, file.metadata.at("quantization"));
  if (options.precision == Precision::kInt8 && !m.int8_file)
    throw Error(path + ": an fp32 model file; for int8, make an int8 file first with "
                "`spdinfer calibrate " + path + " IMAGES... -o MODEL.int8.safetensors`");
  m.runs_int8 = m.int8_file && options.precision != Precision::kFp32;
  WeightBinder binder(path, file.weights);
  GraphBuilder builder(binder);
  builder.set_quantization(quantization.input_scales, m.runs_int8);
  try {
    if (m.family == Family::kResNetSpd)
      build_resnet_spd(m.architecture, builder);
    else
      m.strides = build_yolov5(m.architecture, builder);
    binder.finish();
    m.graph = std::make_unique<Graph>(std::move(builder.def()), std::move(builder.weights()),
                                      m.family == Family::kYoloV5 ? yolov5_ops() : builtin_ops());
  } catch (const Error& e) {
    throw naming_file(path, e);
  }
  m.aliases = std::move(builder.aliases());
  m.quantized_nodes = builder.quantized_nodes();
  m.conv_tensors = builder.conv_tensors();
  for (const auto& [node, scale] : quantization.input_scales)
    if (std::find(m.quantized_nodes.begin(), m.quantized_nodes.end(), node) == m.quantized_nodes.end())
      throw Error(path + ": metadata 'quantization' gives an input scale for '" + node +
                  "', which is not a convolution stored in int8");
  const int64_t classes = m.family == Family::kYoloV5 ? m.architecture.value("nc", 0) : m.architecture.value("num_classes", 0);
  if (!m.class_names.empty() && static_cast<int64_t>(m.class_names.size()) != classes)
    throw Error(path + ": " + std::to_string(m.class_names.size()) + " class names for " + std::to_string(classes) +
                " classes");
  for (int64_t i = static_cast<int64_t>(m.class_names.size()); i < classes; ++i)
    m.class_names.push_back("class" + std::to_string(i));
  if (m.family == Family::kYoloV5) {
    try {
      check_detect_strides(m);
    } catch (const Error& e) {
      throw naming_file(path, e);
    }
  }
  return m;
}

}  // namespace spdinfer

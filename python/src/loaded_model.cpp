// Running a loaded model for Python (see loaded_model.h). The pattern of each
// method: sort out the arguments with the GIL held, release it for decoding
// and inference, take it back to build the NumPy results.
#include "loaded_model.h"

#include <algorithm>
#include <map>
#include <pybind11/stl.h>

#include "arrays.h"
#include "engine/error.h"
#include "inputs.h"

namespace py = pybind11;

namespace spdinfer::python {
namespace {

constexpr int kMaxThreads = 256;  // as the command's --threads
constexpr long long kMaxTopK = 100000;

// One result for a single image, a list for a list.
template <typename Result, typename Convert>
py::object results(const ImageInputs& inputs, const std::vector<Result>& raw, Convert convert) {
  if (inputs.single) return convert(inputs.images[0], raw[0]);
  py::list list;
  for (std::size_t i = 0; i < raw.size(); ++i) list.append(convert(inputs.images[i], raw[i]));
  return list;
}

}  // namespace

std::string Detections::repr() const {
  std::vector<Detection> classes(static_cast<std::size_t>(xyxy.shape(0)));
  for (std::size_t i = 0; i < classes.size(); ++i) classes[i].class_id = static_cast<int>(xyxy.at(static_cast<pybind11::ssize_t>(i), 5));
  std::string counts = detection_counts(classes, names);  // "2 squares, 1 circle, "
  counts.resize(counts.size() - 2);
  return "Detections(" + image + ", " + std::to_string(width) + "x" + std::to_string(height) + ": " + counts + ")";
}

LoadedModel::LoadedModel(const std::string& path, int threads) : threads_(threads) {
  if (threads < 1 || threads > kMaxThreads)
    throw Error("threads=" + std::to_string(threads) + ": expected 1 to " + std::to_string(kMaxThreads));
  {
    py::gil_scoped_release unlocked;
    model_ = std::make_shared<const Model>(load_model(path));
  }
  if (model_->family == Family::kYoloV5)
    detector_.emplace(model_);
  else
    classifier_.emplace(model_);
}

const Detector& LoadedModel::detector() const {
  if (!detector_)
    throw Error(path() + ": is a " + family_name(model_->family) +
                " classifier, not a YOLOv5 detector; use classify()");
  return *detector_;
}

const Classifier& LoadedModel::classifier() const {
  if (!classifier_)
    throw Error(path() + ": is a " + family_name(model_->family) +
                " detector, not a ResNet-SPD classifier; use detect()");
  return *classifier_;
}

int LoadedModel::default_img_size() const {
  return std::max(model_->preprocess.height, model_->preprocess.width);
}

py::dict LoadedModel::info() const {
  const Model& m = *model_;
  py::dict info;
  info["family"] = family_name(m.family);
  info["path"] = m.path;
  info["classes"] = m.class_names.size();
  info["names"] = m.class_names;
  if (detector_) {
    const int size = detector_->input_size(default_img_size());
    info["input_size"] = py::make_tuple(size, size);
    info["strides"] = m.strides;
    info["stride"] = detector_->stride();
  } else {
    info["input_size"] = py::make_tuple(m.preprocess.height, m.preprocess.width);
    info["resize"] = m.preprocess.resize;
  }
  info["parameters"] = m.graph->parameter_count();
  info["metadata"] = m.metadata;
  return info;
}

py::object LoadedModel::detect(const py::handle& images, const DetectArguments& args) const {
  const Detector& d = detector();
  const DetectOptions options =
      detect_options(args, d.class_names(), default_img_size(), threads_);
  if (args.img_size && d.input_size(options.img_size) != options.img_size) {
    const std::string warning = "img_size=" + std::to_string(options.img_size) +
                                " must be a multiple of max stride " + std::to_string(d.stride()) +
                                ", updating to " + std::to_string(d.input_size(options.img_size));
    if (PyErr_WarnEx(PyExc_UserWarning, warning.c_str(), 1) != 0) throw py::error_already_set();
  }
  const ImageInputs inputs = collect_image_inputs(images);
  struct Found {
    std::vector<Detection> detections;
    int width = 0, height = 0;
  };
  std::vector<Found> found(inputs.images.size());
  {
    py::gil_scoped_release unlocked;
    for (std::size_t i = 0; i < found.size(); ++i) {
      const ImageInput& input = inputs.images[i];
      Image decoded;
      const Image& image = input.load(decoded);
      found[i].detections = naming_image(input.label, [&] { return d.detect(image, options); });
      found[i].width = image.width;
      found[i].height = image.height;
    }
  }
  return results(inputs, found, [&](const ImageInput& input, const Found& f) {
    return py::cast(Detections{xyxy_array(f.detections), d.class_names(), input.label, f.width, f.height});
  });
}

py::object LoadedModel::classify(const py::handle& images, long long topk) const {
  const Classifier& c = classifier();
  if (topk < 1 || topk > kMaxTopK)
    throw Error("topk=" + std::to_string(topk) + ": expected 1 to " + std::to_string(kMaxTopK));
  const ImageInputs inputs = collect_image_inputs(images);
  std::vector<std::vector<ClassScore>> best(inputs.images.size());
  {
    py::gil_scoped_release unlocked;
    for (std::size_t i = 0; i < best.size(); ++i) {
      const ImageInput& input = inputs.images[i];
      Image decoded;
      const Image& image = input.load(decoded);
      best[i] = naming_image(input.label, [&] { return c.classify(image, static_cast<int>(topk), threads_); });
    }
  }
  return results(inputs, best, [](const ImageInput&, const std::vector<ClassScore>& scores) {
    py::array_t<std::int64_t> indices(static_cast<py::ssize_t>(scores.size()));
    py::array_t<float> probabilities(static_cast<py::ssize_t>(scores.size()));
    for (std::size_t k = 0; k < scores.size(); ++k) {
      indices.mutable_at(k) = scores[k].class_id;
      probabilities.mutable_at(k) = scores[k].probability;
    }
    return py::make_tuple(indices, probabilities);
  });
}

py::object LoadedModel::run(const py::array& input, const std::optional<std::vector<std::string>>& outputs) const {
  const Model& m = *model_;
  const Tensor x = tensor_from_array(input, "input");
  // Requested layers are captured while they are live in the arena, as `spdinfer run --outputs` does.
  std::map<std::string, std::string> node_to_name;
  if (outputs)
    for (const std::string& name : *outputs) {
      const std::string node = m.node_for_module(name);
      if (node.empty()) throw Error(path() + ": no layer named '" + name + "'");
      node_to_name[node] = name;
    }
  std::map<std::string, Tensor> captured;
  std::vector<Tensor> result;
  {
    py::gil_scoped_release unlocked;
    RunOptions options;
    options.threads = threads_;
    if (outputs)
      options.observer = [&](const Node& node, const Tensor& out, double) {
        auto it = node_to_name.find(node.name);
        if (it != node_to_name.end()) captured.emplace(it->second, out.clone());
      };
    try {
      result = m.graph->forward({&x}, options);
    } catch (const Error& e) {
      throw Error("input: " + std::string(e.what()));
    }
  }
  if (!outputs) return array_from_tensor(result.at(0));
  py::dict named;
  for (const std::string& name : *outputs) named[py::str(name)] = array_from_tensor(captured.at(name));
  return named;
}

}  // namespace spdinfer::python

// What spdinfer.load() returns: one model file, loaded once, and the objects
// that run it (models/detector.h for a YOLOv5-family file, models/classifier.h
// for a ResNet-SPD one). Every method releases the GIL while it decodes and
// runs, and may be called from many Python threads at once: the Model, the
// Detector and the Classifier are read-only after loading.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <string>
#include <vector>

#include "models/classifier.h"
#include "models/detector.h"
#include "models/model.h"
#include "options.h"

namespace spdinfer::python {

// One image's detections: YOLOv5's results.xyxy row layout plus the model's class names.
struct Detections {
  pybind11::array_t<float> xyxy;  // (N, 6) float32: x1, y1, x2, y2, confidence, class
  std::vector<std::string> names;  // class id -> name, the model's
  std::string image;               // the file, or "images[i]" for an array
  int width = 0, height = 0;       // the image's size in pixels

  // "Detections(image.jpg, 640x480: 2 squares, 1 circle)".
  std::string repr() const;
};

class LoadedModel {
 public:
  // Throws spdinfer::Error "PATH: ..." as the command does.
  LoadedModel(const std::string& path, int threads);

  const std::string& path() const { return model_->path; }
  int threads() const { return threads_; }
  // family, path, classes, names, input_size, strides, stride, metadata.
  pybind11::dict info() const;

  // Each returns one result for a single image, a list for a list.
  pybind11::object detect(const pybind11::handle& images, const DetectArguments& args) const;
  pybind11::object classify(const pybind11::handle& images, long long topk) const;
  // Output 0, or {name: output} for the layers named in `outputs`.
  pybind11::object run(const pybind11::array& input, const std::optional<std::vector<std::string>>& outputs) const;

 private:
  const Detector& detector() const;
  // The detector's default img_size: the model's recorded input size (longest side).
  int default_img_size() const;
  const Classifier& classifier() const;

  std::shared_ptr<const Model> model_;
  std::optional<Detector> detector_;
  std::optional<Classifier> classifier_;
  int threads_ = 1;
};

}  // namespace spdinfer::python

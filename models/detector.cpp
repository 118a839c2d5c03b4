// The detection chain behind one call (see detector.h).
#include "models/detector.h"

#include <algorithm>

#include "engine/error.h"
#include "image/preprocess.h"

namespace spdinfer {

Detector::Detector(std::shared_ptr<const Model> model) : model_(std::move(model)) {
  if (!model_ || !model_->graph) throw Error("Detector: no model");
  if (model_->family != Family::kYoloV5)
    throw Error(model_->path + ": is a " + family_name(model_->family) + " model, not a YOLOv5 detector");
  const std::vector<int>& s = model_->strides;
  if (!s.empty()) stride_ = *std::max_element(s.begin(), s.end());
}

Detector::Detector(Model model) : Detector(std::make_shared<const Model>(std::move(model))) {}

Detector Detector::load(const std::string& path) { return Detector(load_model(path)); }

int Detector::input_size(int img_size) const { return round_up_to_multiple(img_size, stride_); }

std::vector<Detection> Detector::detect(const Image& image, const DetectOptions& options,
                                        DetectionReport* report) const {
  DetectionPipelineOptions pipeline;
  pipeline.stride = stride_;
  pipeline.img_size = input_size(options.img_size);
  pipeline.nms = options.nms;
  pipeline.slice = options.slice;
  pipeline.threads = options.threads;
  const Model& m = *model_;
  const int threads = options.threads;
  return detect_objects(
      image, m.preprocess, pipeline, [&m, threads](const Tensor& x) { return forward_input(m, x, threads); },
      report);
}

}  // namespace spdinfer

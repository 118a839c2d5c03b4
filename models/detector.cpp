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

Detector Detector::load(const std::string& path, const LoadOptions& options) {
  return Detector(load_model(path, options));
}

int Detector::input_size(int img_size) const { return round_up_to_multiple(img_size, stride_); }

DetectionPipelineOptions Detector::pipeline_options(const DetectOptions& options) const {
  DetectionPipelineOptions pipeline;
  pipeline.stride = stride_;
  pipeline.img_size = input_size(options.img_size);
  pipeline.nms = options.nms;
  pipeline.slice = options.slice;
  pipeline.threads = options.threads;
  pipeline.tile_progress = options.tile_progress;
  return pipeline;
}

BatchForward Detector::forward(int threads) const {
  const Model& m = *model_;
  return [&m, threads](const Tensor& x) { return forward_input(m, x, threads); };
}

std::vector<Detection> Detector::detect(const Image& image, const DetectOptions& options,
                                        DetectionReport* report) const {
  return detect_objects(image, model_->preprocess, pipeline_options(options), forward(options.threads), report);
}

std::vector<std::vector<Detection>> Detector::detect_batch(const std::vector<const Image*>& images,
                                                           const DetectOptions& options,
                                                           std::vector<DetectionReport>* reports) const {
  return detect_objects_batch(images, model_->preprocess, pipeline_options(options), forward(options.threads),
                              reports);
}

std::vector<std::vector<Detection>> Detector::detect_images(const std::vector<const Image*>& images,
                                                            const DetectOptions& options,
                                                            std::vector<DetectionReport>* reports) const {
  if (images.size() > 1 && !options.slice.enabled()) return detect_batch(images, options, reports);
  if (reports) reports->assign(images.size(), DetectionReport{});
  std::vector<std::vector<Detection>> results;
  for (std::size_t i = 0; i < images.size(); ++i)
    results.push_back(detect(*images[i], options, reports ? &(*reports)[i] : nullptr));
  return results;
}

}  // namespace spdinfer

// The classification chain behind one call (see classifier.h).
#include "models/classifier.h"

#include <chrono>

#include "engine/error.h"

namespace spdinfer {

Classifier::Classifier(std::shared_ptr<const Model> model) : model_(std::move(model)) {
  if (!model_ || !model_->graph) throw Error("Classifier: no model");
  if (model_->family != Family::kResNetSpd)
    throw Error(model_->path + ": is a " + family_name(model_->family) + " model, not a ResNet-SPD classifier");
  preprocess_ = model_->preprocess;
}

Classifier::Classifier(Model model) : Classifier(std::make_shared<const Model>(std::move(model))) {}

Classifier Classifier::load(const std::string& path) { return Classifier(load_model(path)); }

Tensor Classifier::input(const Image& image) const {
  return image_to_tensor(resize_for_classifier(image, preprocess_), preprocess_);
}

Tensor Classifier::logits(const Tensor& batch, int threads) const {
  std::vector<Tensor> out = forward_input(*model_, batch, threads);
  Tensor& l = out.at(0);
  if (l.rank() != 2 || l.dim(0) != batch.dim(0) || l.dim(1) != num_classes())
    throw Error(model_->path + ": output shape " + shape_to_string(l.shape()) + ", expected (" +
                std::to_string(batch.dim(0)) + ", " + std::to_string(num_classes()) + ")");
  return std::move(l);
}

std::vector<ClassScore> Classifier::classify(const Image& image, int k, int threads, ClassifyReport* report) const {
  using Clock = std::chrono::steady_clock;
  const auto ms = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  };
  const auto t0 = Clock::now();
  const Tensor x = input(image);
  const auto t1 = Clock::now();
  const Tensor l = logits(x, threads);
  const auto t2 = Clock::now();
  std::vector<ClassScore> best = top_k(softmax(std::vector<float>(l.data(), l.data() + l.numel())), k);
  if (report) {
    report->pre_ms += ms(t0, t1);
    report->infer_ms += ms(t1, t2);
    report->post_ms += ms(t2, Clock::now());
  }
  return best;
}

}  // namespace spdinfer

// The classification chain behind one call (see classifier.h).
#include "models/classifier.h"

#include <algorithm>
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

Classifier Classifier::load(const std::string& path, const LoadOptions& options) {
  return Classifier(load_model(path, options));
}

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

namespace {
using Clock = std::chrono::steady_clock;
double ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
}  // namespace

std::vector<ClassScore> Classifier::classify(const Image& image, int k, int threads, ClassifyReport* report) const {
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

std::vector<std::vector<ClassScore>> Classifier::classify_batch(const std::vector<Image>& images, int k,
                                                                int threads,
                                                                std::vector<ClassifyReport>* reports) const {
  std::vector<ClassifyReport> r(images.size());
  if (images.empty()) {
    if (reports) reports->clear();
    return {};
  }
  // Every image is resized to the same input, so they stack into one batch.
  Tensor batch({static_cast<std::int64_t>(images.size()), 3, preprocess_.height, preprocess_.width});
  const std::size_t per = static_cast<std::size_t>(3) * preprocess_.height * preprocess_.width;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto t = Clock::now();
    const Tensor x = input(images[i]);
    std::copy_n(x.data(), per, batch.data() + i * per);
    r[i].pre_ms = ms(t, Clock::now());
  }
  const auto t1 = Clock::now();
  const Tensor l = logits(batch, threads);
  const double infer = ms(t1, Clock::now()) / static_cast<double>(images.size());
  std::vector<std::vector<ClassScore>> best;
  const std::int64_t classes = l.dim(1);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto t = Clock::now();
    const float* row = l.data() + static_cast<std::int64_t>(i) * classes;
    best.push_back(top_k(softmax(std::vector<float>(row, row + classes)), k));
    r[i].infer_ms = infer;
    r[i].post_ms = ms(t, Clock::now());
  }
  if (reports) *reports = std::move(r);
  return best;
}

}  // namespace spdinfer

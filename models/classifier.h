// A ResNet-SPD classifier as one object: image in, top-k classes out. It owns
// the chain `spdinfer classify` and `spdinfer val` run: resizing to the input
// (the model's preprocessing preset unless replaced), normalisation, the
// forward pass, softmax and top-k (models/classification.h). What it is not:
// decoding files, datasets or printing.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "models/classification.h"
#include "models/model.h"

namespace spdinfer {

// Milliseconds per stage of one classify() call.
struct ClassifyReport {
  double pre_ms = 0;    // resize + normalise into a tensor
  double infer_ms = 0;  // forward pass
  double post_ms = 0;   // softmax + top-k
};

class Classifier {
 public:
  // Throws spdinfer::Error("PATH: ...") when the model is not a ResNet-SPD classifier.
  explicit Classifier(std::shared_ptr<const Model> model);
  explicit Classifier(Model model);
  // load_model, then the above.
  static Classifier load(const std::string& path, const LoadOptions& options = {});

  const Model& model() const { return *model_; }
  const std::vector<std::string>& class_names() const { return model_->class_names; }
  int num_classes() const { return static_cast<int>(model_->class_names.size()); }

  // The input preparation: the model's preset unless replaced (another input
  // size or resize mode). Not to be called while another thread classifies.
  const Preprocess& preprocess() const { return preprocess_; }
  void set_preprocess(const Preprocess& p) { preprocess_ = p; }

  // The network input for one image: (1, 3, H, W).
  Tensor input(const Image& image) const;
  // Logits of an (N, 3, H, W) batch: (N, classes). Throws spdinfer::Error for
  // an engine failure ("at input SHAPE: ...") or an output of another shape.
  Tensor logits(const Tensor& batch, int threads = 1) const;
  // The k most probable classes, highest first (k clamped to the number of
  // classes), with softmax probabilities. Adds the stage times to `report`
  // unless it is null. Thread-safe: one Classifier may serve many threads.
  std::vector<ClassScore> classify(const Image& image, int k, int threads = 1,
                                   ClassifyReport* report = nullptr) const;
  // The same for several images in one forward pass (`--batch`): each image's
  // classes equal classify()'s on it. One report per image in `reports` unless
  // it is null; each carries its share of the batch's forward time.
  std::vector<std::vector<ClassScore>> classify_batch(const std::vector<Image>& images, int k, int threads = 1,
                                                      std::vector<ClassifyReport>* reports = nullptr) const;

 private:
  std::shared_ptr<const Model> model_;
  Preprocess preprocess_;
};

}  // namespace spdinfer

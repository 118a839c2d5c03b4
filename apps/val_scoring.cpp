// The scoring loops of `spdinfer val` (see val_scoring.h).
#include "apps/val_scoring.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "apps/image_batch.h"
#include "engine/error.h"
#include "image/image.h"

namespace spdinfer::cli {

DetectOptions detection_val_options(const DetectionValOptions& o, const Detector& detector) {
  DetectOptions options;
  options.nms.conf_threshold = o.conf;
  options.nms.iou_threshold = o.iou;
  options.nms.max_det = o.max_det;
  const Preprocess& p = detector.model().preprocess;
  options.img_size = o.img > 0 ? o.img : std::max(p.height, p.width);
  options.slice = o.slice;
  options.threads = o.threads;
  const int img_size = detector.input_size(options.img_size);
  if (img_size != options.img_size)  // as `spdinfer detect` and YOLOv5's check_img_size
    std::fprintf(stderr, "spdinfer: warning: --img %d must be a multiple of max stride %d, updating to %d\n",
                 options.img_size, detector.stride(), img_size);
  options.img_size = img_size;
  return options;
}

void check_detection_labels(const DetectionDataset& data, int num_classes) {
  for (const DetectionSample& s : data.samples) read_yolo_labels(s.labels, 1, 1, num_classes);
}

DetectionScoring score_detections(
    const Detector& detector, const DetectionDataset& data, const DetectOptions& options,
    DetectionEvaluator& evaluator, ConfusionMatrix* confusion,
    const std::function<void(const DetectionSample&, const Image&, const std::vector<Detection>&)>& on_image) {
  const int nc = static_cast<int>(detector.class_names().size());
  DetectionScoring scoring;
  ProgressBar bar(data.samples.size());
  for (std::size_t i = 0; i < data.samples.size(); ++i) {
    const DetectionSample& s = data.samples[i];
    bar.update(i);
    const auto t0 = Clock::now();
    const Image img = load_image(s.image);
    scoring.decode_ms += ms_since(t0);
    const std::vector<Detection> dets =
        naming_image(s.image, [&] { return detector.detect(img, options, &scoring.stages); });
    try {
      const std::vector<LabelledBox> truth = read_yolo_labels(s.labels, img.width, img.height, nc);
      evaluator.add_image(truth, dets);
      if (confusion) confusion->add_image(truth, dets);
    } catch (const Error& e) {
      throw Error(s.image + ": " + e.what());
    }
    if (on_image) on_image(s, img, dets);
  }
  bar.clear();
  return scoring;
}

ClassificationScoring score_classifications(const Classifier& classifier, const LabelledDataset& data, int batch,
                                            int threads, AccuracyCounter& counter,
                                            const std::function<void(const std::vector<int>&)>& on_batch) {
  ClassificationScoring scoring;
  ProgressBar bar(data.size());
  std::vector<int> predictions;
  for (std::size_t begin = 0; begin < data.size(); begin += static_cast<std::size_t>(batch)) {
    const std::size_t end = std::min(data.size(), begin + static_cast<std::size_t>(batch));
    bar.update(begin);
    const auto t0 = Clock::now();
    const Tensor x = dataset_batch(data, begin, end, classifier.preprocess(), threads);
    scoring.preprocess_s += ms_since(t0) / 1000;
    const auto t1 = Clock::now();
    const Tensor logits = naming_image(data.sample_name(begin), [&] { return classifier.logits(x, threads); });
    scoring.inference_s += ms_since(t1) / 1000;
    predictions.clear();
    counter.add_batch(logits.data(), std::vector<int>(data.labels.begin() + begin, data.labels.begin() + end),
                      &predictions);
    if (on_batch) on_batch(predictions);
  }
  bar.clear();
  return scoring;
}

}  // namespace spdinfer::cli

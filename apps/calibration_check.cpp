// calibrate --check (see calibration_check.h).
#include "apps/calibration_check.h"

#include <cstdio>

#include "apps/terminal_text.h"
#include "apps/val_scoring.h"
#include "models/model.h"

namespace spdinfer::cli {
namespace {

// val's batch for classifiers: the images of one batch share a forward pass.
constexpr int kClassifierBatch = 32;

std::vector<AccuracyChange> detector_scores(const Detector& detector, const DetectionDataset& data, int threads) {
  DetectionValOptions val;  // val's defaults: --conf 0.001, --iou 0.6, the model's input size
  val.threads = threads;
  DetectionEvaluator evaluator(static_cast<int>(detector.class_names().size()), val.max_dets_coco);
  score_detections(detector, data, detection_val_options(val, detector), evaluator);
  const DetectionMetrics r = evaluator.compute();
  std::vector<AccuracyChange> scores{{"mAP@0.5", r.map50, 0, true}, {"mAP@0.5:0.95", r.map50_95, 0, false}};
  if (r.map_area[kAreaSmall] >= 0) scores.push_back({"AP-small", r.map_area[kAreaSmall], 0, true});
  return scores;
}

std::vector<AccuracyChange> classifier_scores(const Classifier& classifier, const LabelledDataset& data, int threads) {
  AccuracyCounter counter(static_cast<int>(classifier.model().class_names.size()), 5);
  score_classifications(classifier, data, kClassifierBatch, threads, counter);
  return {{"top-1", counter.top1(), 0, true}, {"top-5", counter.topk(), 0, false}};
}

std::vector<AccuracyChange> scores(const std::string& model_path, Precision precision, const std::string& dataset,
                                   const std::string& split, int threads) {
  Model model = load_model(model_path, LoadOptions{precision});
  if (model.family == Family::kYoloV5)
    return detector_scores(Detector(std::move(model)), open_detection_dataset(dataset, split), threads);
  const LabelledDataset data = open_dataset(dataset, model.class_names);
  return classifier_scores(Classifier(std::move(model)), data, threads);
}

}  // namespace

void check_accuracy_dataset(const Model& model, const std::string& dataset, const std::string& split) {
  if (model.family == Family::kYoloV5)
    check_detection_labels(open_detection_dataset(dataset, split), static_cast<int>(model.class_names.size()));
  else
    open_dataset(dataset, model.class_names);
}

std::vector<AccuracyChange> compare_accuracy(const std::string& fp32_model, const std::string& int8_model,
                                             const std::string& dataset, const std::string& split, int threads) {
  // Each model's figures, in one order: the fp32 run names and gates them.
  std::vector<AccuracyChange> changes = scores(fp32_model, Precision::kFp32, dataset, split, threads);
  const std::vector<AccuracyChange> int8 = scores(int8_model, Precision::kFile, dataset, split, threads);
  for (std::size_t i = 0; i < changes.size(); ++i) changes[i].int8 = int8.at(i).fp32;
  return changes;
}

bool report_accuracy_changes(const std::vector<AccuracyChange>& changes, const std::string& dataset,
                             double max_drop_points, const std::string& table) {
  std::string line;
  bool over = false;
  for (const AccuracyChange& c : changes) {
    const double points = 100 * (c.int8 - c.fp32);
    char text[128];
    std::snprintf(text, sizeof text, "%s%s %.4f -> %.4f (%+.2f points)", line.empty() ? "" : ", ", c.metric.c_str(),
                  c.fp32, c.int8, points);
    line += text;
    if (c.gated && -points > max_drop_points) {
      over = true;
      std::fprintf(stderr,
                   "spdinfer: warning: int8 loses %.2f points of %s on %s (more than %g): keep the layers that "
                   "suffer most in fp32 (delete their lines from %s and rerun with --from-table), or try another "
                   "--method\n",
                   -points, c.metric.c_str(), terminal_text(dataset).c_str(), max_drop_points,
                   terminal_text(table).c_str());
    }
  }
  std::printf("check: %s: %s (fp32 -> int8)\n", terminal_text(dataset).c_str(), line.c_str());
  return over;
}

}  // namespace spdinfer::cli

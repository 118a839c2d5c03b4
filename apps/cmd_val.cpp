// `spdinfer val MODEL DATASET [--batch N] [--threads N] [--json] [--predictions FILE]`:
// top-1 and top-5 accuracy of a ResNet-SPD classifier over a labelled dataset
// (idx files or class folders, see eval/dataset.h), per class and overall.
// Images go through the graph `--batch` at a time. Thin: the numerics are
// eval/dataset, models/classifier and eval/accuracy.
// [--img N|HxW] (also --imgsz, --img-size, --size) replaces the model's input size.
// For a YOLOv5-family detector (with [--split] [--conf] [--iou]
// [--max-det] [--slice WxH ...]) it hands over to val_detection.h: COCO mAP over
// a YOLO dataset.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <utility>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/terminal_text.h"
#include "apps/image_batch.h"
#include "apps/input_size.h"
#include "apps/number_checks.h"
#include "apps/precision_option.h"
#include "apps/slice_options.h"
#include "apps/val_detection.h"
#include "apps/val_scoring.h"
#include "engine/error.h"
#include "eval/accuracy.h"
#include "eval/dataset.h"
#include "models/classifier.h"
#include "models/detector.h"

namespace spdinfer::cli {
namespace {
using Clock = std::chrono::steady_clock;

struct ValOptions {
  std::string model, dataset, predictions, precision;
  int batch = 32;
  int threads = 1;
  bool json = false;
  InputSize size;                 // not given: the model's
  DetectionValOptions detection;  // detectors only
  bool plots = false, no_plots = false;
};

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void run_val(const ValOptions& o) {
  const auto start = Clock::now();
  Model model = load_model(o.model, precision_load_options(o.precision));
  if (model.family == Family::kYoloV5) {
    // A detector letterboxes to a square of the longest side: one number.
    if (o.size.given() && !o.size.square())
      throw CLI::ValidationError("--img " + o.size.text() +
                                 ": a detector takes one size N (the longest side), not HxW");
    DetectionValOptions d = o.detection;
    d.img = o.size.height;
    d.model = o.model;
    d.dataset = o.dataset;
    d.predictions = o.predictions;
    d.threads = o.threads;
    d.json = o.json;
    d.plots = o.plots || (!d.out.empty() && !o.no_plots);
    return run_detection_val(d, Detector(std::move(model)));
  }
  for (const auto& [given, option] : {std::pair{o.detection.slice.enabled(), "--slice"},
                                       std::pair{!o.detection.out.empty(), "--out"}, std::pair{o.plots, "--plots"}})
    if (given)
      throw CLI::ValidationError(std::string(option) + " is for detectors; " + o.model + " is a " +
                                 family_name(model.family) + " classifier");
  Classifier classifier(std::move(model));
  if (o.size.given()) {
    check_input_multiple(classifier.model(), o.size.height, o.size.width, "--img " + o.size.text());
    Preprocess p = classifier.preprocess();
    p.height = o.size.height;
    p.width = o.size.width;
    classifier.set_preprocess(p);
  }
  const Model& m = classifier.model();
  const Preprocess& p = classifier.preprocess();
  const LabelledDataset data = open_dataset(o.dataset, m.class_names);
  const int classes = static_cast<int>(m.class_names.size());

  std::ofstream predictions_out;
  if (!o.predictions.empty()) {
    predictions_out.open(o.predictions);
    if (!predictions_out) throw Error(o.predictions + ": cannot write");
  }
  std::FILE* human = o.json ? stderr : stdout;
  std::fprintf(human, "val: %s: %zu image%s, %d classes, input %dx%d, batch %d, %d thread%s\n",
               data.description.c_str(), data.size(), data.size() == 1 ? "" : "s", classes, p.height, p.width,
               o.batch, o.threads, o.threads == 1 ? "" : "s");
  std::fflush(human);

  AccuracyCounter counter(classes, 5);
  const ClassificationScoring scoring =
      score_classifications(classifier, data, o.batch, o.threads, counter, [&](const std::vector<int>& predictions) {
        if (predictions_out)
          for (int c : predictions) predictions_out << c << '\n';
      });
  const double pre_s = scoring.preprocess_s, infer_s = scoring.inference_s;
  if (predictions_out) {
    predictions_out.close();
    if (!predictions_out) throw Error(o.predictions + ": write failed");
  }
  const double total_s = seconds_since(start);
  const double n = static_cast<double>(data.size());

  // Per-class table, then the totals.
  std::size_t name_width = 5;
  for (const auto& name : m.class_names) name_width = std::max(name_width, name.size());
  const int w = static_cast<int>(std::min<std::size_t>(name_width, 40));
  std::fprintf(human, "%-*s %8s %8s\n", w, "class", "images", "top-1");
  for (int c = 0; c < classes; ++c) {
    const int64_t count = counter.class_count()[c];
    if (count == 0) continue;
    std::fprintf(human, "%-*s %8lld %7.2f%%\n", w, terminal_text(m.class_names[c]).c_str(), static_cast<long long>(count),
                 100.0 * counter.class_top1_correct()[c] / count);
  }
  std::fprintf(human, "%-*s %8lld %7.2f%%   top-5 %.2f%%\n", w, "all", static_cast<long long>(counter.count()),
               100.0 * counter.top1(), 100.0 * counter.topk());
  std::fprintf(human, "Speed: %.3fms pre-process, %.3fms inference per image; %.1f s in all\n", 1000 * pre_s / n,
               1000 * infer_s / n, total_s);
  if (o.json) {
    nlohmann::json per_class = nlohmann::json::array();
    for (int c = 0; c < classes; ++c) {
      const int64_t count = counter.class_count()[c];
      per_class.push_back({{"class_id", c},
                           {"class_name", m.class_names[c]},
                           {"images", count},
                           {"top1_correct", counter.class_top1_correct()[c]},
                           {"top1", count ? round_significant(double(counter.class_top1_correct()[c]) / count, 6)
                                          : 0.0}});
    }
    const nlohmann::json result = {
        {"model", o.model},
        {"dataset", data.description},
        {"images", counter.count()},
        {"classes", classes},
        {"top1", round_significant(counter.top1(), 6)},
        {"top1_correct", counter.top1_correct()},
        {"top5", round_significant(counter.topk(), 6)},
        {"top5_correct", counter.topk_correct()},
        {"per_class", per_class},
        {"input", {p.height, p.width}},
        {"batch", o.batch},
        {"threads", o.threads},
        {"ms_per_image_preprocess", round_decimals(1000 * pre_s / n, 4)},
        {"ms_per_image_inference", round_decimals(1000 * infer_s / n, 4)},
        {"seconds", round_decimals(total_s, 3)}};
    std::printf("%s\n", json_text(result).c_str());
  }
  std::fflush(stdout);
}

}  // namespace

void add_val_command(CLI::App& app) {
  auto opts = std::make_shared<ValOptions>();
  CLI::App* cmd = app.add_subcommand(
      "val",
      "Top-1 / top-5 accuracy of a ResNet-SPD classifier on a labelled dataset (idx files or class folders); "
      "COCO mAP@0.5, mAP@0.5:0.95 and AP by object size of a YOLOv5 detector on a YOLO-format dataset");
  cmd->add_option("model", opts->model, "spdinfer model file (ResNet-SPD or YOLOv5 family)")->required();
  cmd->add_option("dataset", opts->dataset,
                  "classifier: idx images file (labels beside it), a folder of idx files (t10k preferred), or a "
                  "folder of class folders; detector: a dataset.json (or its folder) with --split, or a folder "
                  "of images whose labels are in the matching labels/ folder")
      ->required();
  DetectionValOptions& det = opts->detection;
  cmd->add_option("--split", det.split, "detector: the dataset file's split (train, val, test)");
  add_input_size_option(cmd, opts->size, "--img",
                        "network input size; a detector's is N, the longest side, rounded up to its stride "
                        "(default: the model's)");
  cmd->add_option("--conf", det.conf, "detector: confidence threshold")->check(finite_range(0.0, 1.0));
  cmd->add_option("--iou", det.iou, "detector: NMS IoU threshold")->check(finite_range(0.0, 1.0));
  cmd->add_option("--max-det", det.max_det, "detector: detections kept per image after NMS")
      ->check(CLI::Range(1, 100000));
  add_slice_options(cmd, det.slice);
  cmd->add_option("--batch", opts->batch, "images per forward pass")->check(CLI::Range(1, 4096));
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  add_precision_option(cmd, opts->precision);
  cmd->add_flag("--json", opts->json, "one JSON object with the results on stdout (the table goes to stderr)");
  cmd->add_option("--predictions", opts->predictions,
                  "classifier: write the predicted class id of every image, one per line; detector: write every "
                  "image's detections and label file as JSON");
  CLI::Option* out = cmd->add_option(
      "--out", det.out, "detector: write YOLOv5 val.py's figures here (PR, F1/P/R-confidence curves, confusion matrix)")
      ->type_name("DIR");
  cmd->add_flag("--plots", opts->plots, "detector: draw the figures (on when --out is given; needs matplotlib)")
      ->needs(out);
  cmd->add_flag("--no-plots", opts->no_plots, "detector: with --out, draw no figures")->excludes("--plots");
  cmd->callback([opts] { run_val(*opts); });
}

}  // namespace spdinfer::cli

// The detector half of `spdinfer val`: every image of the split goes through
// what `spdinfer detect` does (models/detector: letterbox, forward,
// NMS at --conf/--iou, boxes back in original pixels; or sliced inference with
// --slice), its label file gives the objects, and eval/detection_metrics
// scores the lot. Thin: no numerics here.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/figures.h"
#include "apps/terminal_text.h"
#include "apps/image_batch.h"
#include "apps/slice_options.h"
#include "apps/stage_times.h"
#include "apps/val_detection.h"
#include "apps/val_scoring.h"
#include "detect/detection.h"
#include "engine/error.h"
#include "eval/confusion_matrix.h"
#include "eval/detection_dataset.h"
#include "eval/detection_metrics.h"
#include "image/image.h"

namespace spdinfer::cli {
namespace {

// -1 (nothing to measure) as JSON null, else rounded.
nlohmann::json ap_json(double ap) { return ap < 0 ? nlohmann::json(nullptr) : nlohmann::json(round_significant(ap, 6)); }

std::string ap_text(double ap) {
  char buf[16];
  if (ap < 0) return "-";
  std::snprintf(buf, sizeof buf, "%.4f", ap);
  return buf;
}

// The image's detections with every number as computed (doubles of the floats),
// so another implementation of the metric sees exactly what this one saw.
nlohmann::json predictions_json(const DetectionSample& s, const Image& img, const std::vector<Detection>& dets) {
  nlohmann::json list = nlohmann::json::array();
  for (const Detection& d : dets)
    list.push_back({d.class_id, static_cast<double>(d.confidence), static_cast<double>(d.x1),
                    static_cast<double>(d.y1), static_cast<double>(d.x2), static_cast<double>(d.y2)});
  return {{"image", s.image}, {"labels", s.labels}, {"width", img.width}, {"height", img.height},
          {"detections", list}};
}

void print_table(std::FILE* out, const std::vector<std::string>& names, const DetectionMetrics& r) {
  std::size_t name_width = 5;
  for (const auto& name : names) name_width = std::max(name_width, name.size());
  const int w = static_cast<int>(std::min<std::size_t>(name_width, 40));
  std::fprintf(out, "%-*s %8s %8s %8s %8s\n", w, "class", "images", "objects", "AP50", "AP50-95");
  std::fprintf(out, "%-*s %8lld %8lld %8s %8s\n", w, "all", static_cast<long long>(r.images),
               static_cast<long long>(r.objects[kAreaAll]), ap_text(r.map50).c_str(), ap_text(r.map50_95).c_str());
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const ClassAp& a = r.per_class[c];
    if (a.objects[kAreaAll] == 0) continue;
    std::fprintf(out, "%-*s %8lld %8lld %8s %8s\n", w, terminal_text(names[c]).c_str(), static_cast<long long>(a.images),
                 static_cast<long long>(a.objects[kAreaAll]), ap_text(a.ap50()).c_str(),
                 ap_text(a.ap50_95()).c_str());
  }
  std::fprintf(out, "AP50-95 by object size: small %s (%lld objects), medium %s (%lld), large %s (%lld)\n",
               ap_text(r.map_area[kAreaSmall]).c_str(), static_cast<long long>(r.objects[kAreaSmall]),
               ap_text(r.map_area[kAreaMedium]).c_str(), static_cast<long long>(r.objects[kAreaMedium]),
               ap_text(r.map_area[kAreaLarge]).c_str(), static_cast<long long>(r.objects[kAreaLarge]));
}

nlohmann::json result_json(const DetectionValOptions& o, const std::vector<std::string>& names,
                           const DetectionDataset& data, int img_size,
                           const DetectionMetrics& r) {
  nlohmann::json per_class = nlohmann::json::array();
  for (std::size_t c = 0; c < r.per_class.size(); ++c) {
    const ClassAp& a = r.per_class[c];
    per_class.push_back({{"class_id", c},
                         {"class_name", names[c]},
                         {"images", a.images},
                         {"objects", a.objects[kAreaAll]},
                         {"ap50", ap_json(a.ap50())},
                         {"ap50_95", ap_json(a.ap50_95())},
                         {"ap_small", ap_json(a.ap50_95(kAreaSmall))},
                         {"ap_medium", ap_json(a.ap50_95(kAreaMedium))},
                         {"ap_large", ap_json(a.ap50_95(kAreaLarge))}});
  }
  nlohmann::json objects;
  for (int a = 0; a < kAreaRanges; ++a) objects[kAreaNames[a]] = r.objects[a];
  return {{"model", o.model},
          {"dataset", data.description},
          {"split", o.split},
          {"images", r.images},
          {"detections", r.detections},
          {"objects", objects},
          {"map50", ap_json(r.map50)},
          {"map75", ap_json(r.map75)},
          {"map50_95", ap_json(r.map50_95)},
          {"ap_small", ap_json(r.map_area[kAreaSmall])},
          {"ap_medium", ap_json(r.map_area[kAreaMedium])},
          {"ap_large", ap_json(r.map_area[kAreaLarge])},
          {"per_class", per_class},
          {"img", img_size},
          {"conf", round_significant(o.conf, 6)},
          {"iou", round_significant(o.iou, 6)},
          {"max_det", o.max_det},
          {"max_dets_per_class", o.max_dets_coco},
          {"threads", o.threads}};
}

}  // namespace

void run_detection_val(const DetectionValOptions& o, const Detector& detector) {
  const auto start = Clock::now();
  if (o.plots) prepare_val_figures(o.out);
  const DetectionDataset data = open_detection_dataset(o.dataset, o.split);
  const std::vector<std::string>& names = detector.class_names();
  const int nc = static_cast<int>(names.size());
  if (!data.class_names.empty() && data.class_names != names)
    std::fprintf(stderr, "spdinfer: warning: %s: class names differ from the model's; scoring by class id\n",
                 data.description.c_str());
  const DetectOptions options = detection_val_options(o, detector);
  const int img_size = options.img_size;
  check_detection_labels(data, nc);

  const bool sliced = o.slice.enabled();
  std::ofstream predictions_out;
  if (!o.predictions.empty()) {
    predictions_out.open(o.predictions);
    if (!predictions_out) throw Error(o.predictions + ": cannot write");
  }
  std::FILE* human = o.json ? stderr : stdout;
  std::fprintf(human, "val: %s: %zu image%s, %d classes, input %d, conf %g, iou %g, %d thread%s\n",
               data.description.c_str(), data.samples.size(), data.samples.size() == 1 ? "" : "s", nc, img_size,
               o.conf, o.iou, o.threads, o.threads == 1 ? "" : "s");
  if (sliced) std::fprintf(human, "val: sliced inference: %s\n", describe_slicing(o.slice).c_str());
  std::fflush(human);

  DetectionEvaluator evaluator(nc, o.max_dets_coco);
  ConfusionMatrix confusion(nc);  // drawn by --plots
  nlohmann::json predictions = nlohmann::json::array();
  const DetectionScoring scoring = score_detections(
      detector, data, options, evaluator, o.plots ? &confusion : nullptr,
      [&](const DetectionSample& s, const Image& img, const std::vector<Detection>& dets) {
        if (predictions_out.is_open()) predictions.push_back(predictions_json(s, img, dets));
      });
  const DetectionReport& total = scoring.stages;
  const double decode_ms = scoring.decode_ms;
  const DetectionMetrics r = evaluator.compute();
  if (predictions_out.is_open()) {
    predictions_out << json_text(nlohmann::json{{"model", o.model},
                                                {"classes", nc},
                                                {"max_dets_per_class", o.max_dets_coco},
                                                {"images", predictions}})
                    << '\n';
    predictions_out.close();
    if (!predictions_out) throw Error(o.predictions + ": write failed");
  }
  print_table(human, names, r);
  const double n = static_cast<double>(std::max<std::size_t>(1, data.samples.size()));
  const double total_s = ms_since(start) / 1000;
  if (sliced)
    std::fprintf(human, "%s; %.1f s in all\n", sliced_speed(total, decode_ms, n).c_str(), total_s);
  else
    std::fprintf(human, "%s; %.1f s in all\n", speed_text(StageTimes(total, decode_ms), n, "NMS").c_str(), total_s);
  std::vector<std::string> figures;
  if (o.plots && r.objects[kAreaAll] == 0) {
    std::fprintf(stderr, "spdinfer: warning: %s: no labelled objects in the split; no figures drawn\n",
                 data.description.c_str());
  } else if (o.plots) {
    figures = write_val_figures(o.out, names, evaluator, r, confusion);
    std::fprintf(human, "Figures: %s (data: %s)\n", o.out.c_str(), kValCurvesFile);
  }
  if (o.json) {
    nlohmann::json result = result_json(o, names, data, img_size, r);
    // The stages as `spdinfer detect` times them (apps/stage_times.h): decode, then pre (letterbox).
    result["ms_per_image"] = {{"decode", round_decimals(decode_ms / n, 3)},
                              {"pre", round_decimals(total.pre_ms / n, 3)},
                              {"infer", round_decimals(total.infer_ms / n, 3)},
                              {"nms", round_decimals(total.nms_ms / n, 3)}};
    if (sliced) {
      result["ms_per_image"]["merge"] = round_decimals(total.merge_ms / n, 3);
      result["slice"] = {{"width", o.slice.width},
                         {"height", o.slice.height},
                         {"overlap", round_significant(o.slice.overlap, 6)},
                         {"full_pass", o.slice.full_pass},
                         {"merge", o.slice.merge.method == MergeMethod::kNmm ? "nmm" : "nms"},
                         {"match", o.slice.merge.match == MatchMetric::kIos ? "ios" : "iou"},
                         {"merge_thres", round_significant(o.slice.merge.threshold, 6)},
                         {"tile_batch", o.slice.tile_batch},
                         {"tiles", total.tiles},
                         {"forwards", total.forwards}};
    }
    if (o.plots) result["figures"] = figures;
    result["seconds"] = round_decimals(total_s, 3);
    std::printf("%s\n", json_text(result).c_str());
  }
  std::fflush(stdout);
}

}  // namespace spdinfer::cli

// `spdinfer detect MODEL IMAGE|DIR|GLOB... [--img 640] [--conf 0.25] [--iou 0.45] [--max-det 1000]
//  [--classes ID,...] [--agnostic] [--out DIR] [--save-txt] [--json] [--threads N]
//  [--slice WxH [--overlap 0.2] [--full-pass|--no-full-pass] [--merge nmm|nms] [--match ios|iou]
//   [--merge-thres 0.5] [--tile-batch 8]] [--vid-stride N] [--stream-timeout S]`:
// YOLOv5's detect.py for spdinfer models: letterbox, forward, NMS, boxes in
// original pixels; or, with --slice, sliced inference over native-resolution
// tiles for small objects; console lines like detect.py's, optional annotated
// images, YOLO label files and JSON lines; videos and streams in
// apps/detect_video.cpp. Thin: the chain is
// models/detector; drawing is detect/draw.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "apps/commands.h"
#include "apps/detect_video.h"
#include "apps/detection_output.h"
#include "apps/terminal_text.h"
#include "apps/image_batch.h"
#include "apps/number_checks.h"
#include "apps/slice_options.h"
#include "detect/detection.h"
#include "detect/draw.h"
#include "engine/error.h"
#include "image/image.h"
#include "models/detector.h"

namespace spdinfer::cli {
namespace {
namespace fs = std::filesystem;

struct DetectArgs {
  std::string model;
  std::vector<std::string> inputs;
  int img = 640;
  float conf = 0.25f, iou = 0.45f;
  int max_det = 1000;
  std::vector<int> classes;
  bool agnostic = false;
  std::string out;
  bool save_txt = false;
  bool json = false;
  int threads = 1;
  SliceOptions slice;
  DrawStyle draw;
  VideoSettings video;
};

const CLI::Validator kUnitInterval = finite_range(0.0, 1.0);

void run_detect(const DetectArgs& o) {
  if (o.save_txt && o.out.empty()) throw Error("--save-txt writes into OUT/labels: give --out DIR");
  Model m = load_model(o.model);
  if (m.family != Family::kYoloV5)
    throw Error(o.model + ": is a " + family_name(m.family) +
                " classifier, not a YOLOv5 detector; use `spdinfer classify`");
  const Detector detector(std::move(m));
  const std::vector<std::string>& names = detector.class_names();
  const int nc = static_cast<int>(names.size());
  for (int c : o.classes)
    if (c >= nc)
      throw Error("--classes " + std::to_string(c) + ": the model has " + std::to_string(nc) +
                  " classes (0-" + std::to_string(nc - 1) + ")");
  DetectOptions options;
  options.nms.conf_threshold = o.conf;
  options.nms.iou_threshold = o.iou;
  options.nms.max_det = o.max_det;
  options.nms.classes = o.classes;
  options.nms.agnostic = o.agnostic;
  options.slice = o.slice;
  options.threads = o.threads;
  options.img_size = o.img;
  const int img_size = detector.input_size(o.img);
  if (img_size != o.img)
    std::fprintf(stderr, "spdinfer: warning: --img %d must be a multiple of max stride %d, updating to %d\n",
                 o.img, detector.stride(), img_size);

  // Videos and streams go their own way (apps/detect_video.h); the rest are images.
  std::vector<std::string> images;
  std::vector<std::string> videos;
  for (const std::string& input : o.inputs) (is_video_input(input) ? videos : images).push_back(input);
  if (!videos.empty()) run_detect_video(detector, options, videos, {o.out, o.save_txt, o.json, o.draw, o.video});
  if (images.empty()) return;
  const std::vector<std::string> files = expand_image_inputs(images);
  if (!o.out.empty()) {
    make_directory(o.out);
    // Checked before any work: annotated copies must never replace the photos.
    for (const std::string& path : files) {
      const fs::path target = fs::path(o.out) / fs::path(path).filename();
      std::error_code ec;
      if (fs::equivalent(target, path, ec))
        throw Error(target.string() + ": --out would overwrite this input image; choose another directory");
    }
  }
  if (o.save_txt) make_directory((fs::path(o.out) / "labels").string());

  // Human-readable lines: stdout normally, stderr when stdout carries JSON.
  std::FILE* human = o.json ? stderr : stdout;
  const bool sliced = o.slice.enabled();
  if (sliced) std::fprintf(human, "sliced inference: %s\n", describe_slicing(o.slice).c_str());

  ProgressBar bar(files.size());
  DetectionReport total;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    bar.update(i);
    auto t0 = Clock::now();
    const Image img = load_image(path);
    DetectionReport r;
    r.pre_ms = ms_since(t0);
    const std::vector<Detection> dets = naming_image(path, [&] { return detector.detect(img, options, &r); });
    total.add(r);

    bar.clear();
    std::fprintf(human, "image %zu/%zu %s: %dx%d %s", i + 1, files.size(), terminal_text(path).c_str(), r.input_h,
                 r.input_w, terminal_text(detection_counts(dets, names)).c_str());
    if (sliced)
      std::fprintf(
          human, "%d tiles in %d forwards, %.1fms pre-process, %.1fms inference, %.1fms NMS, %.1fms merge\n",
          r.tiles, r.forwards, r.pre_ms, r.infer_ms, r.nms_ms, r.merge_ms);
    else
      std::fprintf(human, "%.1fms\n", r.infer_ms);
    if (o.json) std::printf("%s\n", json_text(detections_json(names, path, img, dets, r, sliced)).c_str());
    std::fflush(stdout);

    if (!o.out.empty()) {
      const std::string name = fs::path(path).filename().string();
      Image annotated = img;
      draw_detections(annotated, dets, names, o.draw);
      save_image((fs::path(o.out) / name).string(), annotated);
      if (o.save_txt)
        write_labels((fs::path(o.out) / "labels" / fs::path(name).replace_extension(".txt")).string(), dets,
                     img.width, img.height);
    }
  }
  bar.clear();
  const double n = static_cast<double>(files.size());
  if (sliced)
    std::fprintf(human, "%s\n", sliced_speed(total, n).c_str());
  else
    std::fprintf(
        human, "Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape (1, 3, %d, %d)\n",
        total.pre_ms / n, total.infer_ms / n, total.nms_ms / n, img_size, img_size);
  if (!o.out.empty())
    std::fprintf(human, "Results saved to %s%s\n", o.out.c_str(), o.save_txt ? " (labels in labels/)" : "");
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto opts = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Detect objects in images with a YOLOv5-family model");
  cmd->option_defaults()->always_capture_default();
  cmd->add_option("model", opts->model, "spdinfer model file (YOLOv5 family)")->required();
  cmd->add_option("images", opts->inputs,
                  "image files, directories or glob patterns (JPEG, PNG, BMP); videos, streams, cameras")
      ->required();
  cmd->add_option("--img", opts->img, "inference size in pixels (longest side; rounded up to the stride)")
      ->check(CLI::Range(32, 8192));
  cmd->add_option("--conf", opts->conf, "confidence threshold")->check(kUnitInterval);
  cmd->add_option("--iou", opts->iou, "NMS IoU threshold")->check(kUnitInterval);
  cmd->add_option("--max-det", opts->max_det, "maximum detections per image")->check(CLI::Range(1, 1000000));
  cmd->add_option("--classes", opts->classes, "keep only these class ids, e.g. --classes 0,2")
      ->delimiter(',')
      ->check(CLI::Range(0, 1000000));
  cmd->add_flag("--agnostic", opts->agnostic, "class-agnostic NMS");
  cmd->add_option("--out", opts->out, "directory for annotated images");
  cmd->add_flag("--save-txt", opts->save_txt,
                "write YOLO labels (class xc yc w h conf) to OUT/labels/NAME.txt");
  cmd->add_flag("--json", opts->json, "one JSON object per image on stdout (other output goes to stderr)");
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_option("--line-thickness", opts->draw.line_width,
                  "box line width in pixels; 0: YOLOv5's, max(round((w+h)/2*0.003),2); text size follows it")
      ->check(CLI::Range(0, 200));
  cmd->add_flag("--hide-labels", opts->draw.hide_labels, "draw boxes without labels (default: labels drawn)");
  cmd->add_flag("--hide-conf", opts->draw.hide_conf, "labels without the confidence (default: shown)");
  add_slice_options(cmd, opts->slice);
  add_video_options(cmd, opts->video);
  cmd->callback([opts] { run_detect(*opts); });
}

}  // namespace spdinfer::cli

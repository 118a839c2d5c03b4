// `spdinfer detect MODEL IMAGE|DIR|GLOB... [--img N] [--conf 0.25] [--iou 0.45] [--max-det 1000]
//  [--classes ID|NAME,...] [--agnostic] [--project runs/detect] [--name exp] [--exist-ok] [--out DIR]
//  [--nosave] [--save-txt [--save-conf]] [--print-boxes] [--json] [--threads N]
//  [--slice WxH [--overlap 0.2] [--full-pass|--no-full-pass] [--merge nmm|nms] [--match ios|iou]
//   [--merge-thres 0.5] [--tile-batch 8]] [--vid-stride N] [--stream-timeout S]`:
// YOLOv5's detect.py for spdinfer models: letterbox, forward, NMS, boxes in
// original pixels; or, with --slice, sliced inference over native-resolution
// tiles for small objects; console lines like detect.py's, annotated images
// and YOLO label files saved where detect.py saves them (runs/detect/exp,
// exp2, ...: apps/output_paths.h), JSON lines; videos and streams in
// apps/detect_video.cpp. Thin: the chain is
// models/detector; drawing is detect/draw.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/batched_images.h"
#include "apps/class_selection.h"
#include "apps/commands.h"
#include "apps/detect_video.h"
#include "apps/detection_output.h"
#include "apps/terminal_text.h"
#include "apps/image_batch.h"
#include "apps/number_checks.h"
#include "apps/output_paths.h"
#include "apps/slice_options.h"
#include "apps/stage_times.h"
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
  int img = 0;  // 0: the model's recorded input size
  float conf = 0.25f, iou = 0.45f;
  int max_det = 1000;
  std::vector<std::string> classes;  // ids or names
  bool agnostic = false;
  std::string project = "runs/detect", name = "exp";
  bool exist_ok = false;
  std::string out;  // explicit directory instead of project/name
  bool nosave = false;
  bool save_txt = false, save_conf = false;
  bool print_boxes = false;
  bool json = false;
  int threads = 1;
  int batch = 1;
  bool quiet = false;
  SliceOptions slice;
  DrawStyle draw;
  VideoSettings video;
};

const CLI::Validator kUnitInterval = finite_range(0.0, 1.0);

// One batch of decoded images through the detector (Detector::detect_images).
std::vector<std::vector<Detection>> detect_loaded(const Detector& detector, const DetectOptions& options,
                                                  const std::vector<LoadedImage>& loaded,
                                                  std::vector<DetectionReport>& reports) {
  std::vector<const Image*> images;
  for (const LoadedImage& in : loaded) images.push_back(&in.image);
  return naming_image(loaded[0].path + (loaded.size() > 1 ? " and the rest of its batch" : ""),
                      [&] { return detector.detect_images(images, options, &reports); });
}

// --print-boxes: one indented line per box under the image's line.
void print_boxes(std::FILE* out, const std::vector<Detection>& dets, const std::vector<std::string>& names) {
  for (const Detection& d : dets)
    std::fprintf(out, "    %d %s %.3f [%.1f, %.1f, %.1f, %.1f]\n", d.class_id,
                 terminal_text(class_name(names, d.class_id)).c_str(), static_cast<double>(d.confidence),
                 static_cast<double>(d.x1), static_cast<double>(d.y1), static_cast<double>(d.x2),
                 static_cast<double>(d.y2));
}

std::string counted(std::size_t n, const char* noun) {
  return std::to_string(n) + " " + (n == 1 ? noun : plural_noun(noun));
}

void run_detect(const DetectArgs& o) {
  Model m = load_model(o.model);
  if (m.family != Family::kYoloV5)
    throw Error(o.model + ": is a " + family_name(m.family) +
                " classifier, not a YOLOv5 detector; use `spdinfer classify`");
  const Detector detector(std::move(m));
  const std::vector<std::string>& names = detector.class_names();
  DetectOptions options;
  options.nms.conf_threshold = o.conf;
  options.nms.iou_threshold = o.iou;
  options.nms.max_det = o.max_det;
  options.nms.classes = resolve_classes(o.classes, names, o.model);
  options.nms.agnostic = o.agnostic;
  options.slice = o.slice;
  options.threads = o.threads;
  const Preprocess& p = detector.model().preprocess;
  options.img_size = o.img > 0 ? o.img : std::max(p.height, p.width);
  const int img_size = detector.input_size(options.img_size);
  if (img_size != options.img_size)
    std::fprintf(stderr, "spdinfer: warning: --img %d must be a multiple of max stride %d, updating to %d\n",
                 options.img_size, detector.stride(), img_size);

  // Videos and streams go their own way (apps/detect_video.h); the rest are images.
  std::vector<std::string> images;
  std::vector<std::string> videos;
  for (const std::string& input : o.inputs) (is_video_input(input) ? videos : images).push_back(input);
  const std::vector<std::string> files = images.empty() ? images : expand_image_inputs(images);
  // Everything about the outputs is settled before any work.
  const bool save_img = !o.nosave;
  const std::vector<OutputName> outputs = distinct_output_names(files);
  std::string save_dir;
  if (save_img || o.save_txt) {
    if (o.out.empty()) {
      save_dir = claim_run_directory(o.project, o.name, o.exist_ok);
    } else {
      save_dir = o.out;
      make_directory(save_dir);
    }
    if (save_img) check_inputs_not_overwritten(save_dir, outputs, files);
    if (o.save_txt) make_directory((fs::path(save_dir) / "labels").string());
    for (std::size_t i = 0; i < files.size(); ++i)
      if (outputs[i].image != fs::path(files[i]).filename().string())
        std::fprintf(stderr, "spdinfer: note: %s is saved as %s (%s is taken by an earlier input)\n",
                     terminal_text(files[i]).c_str(),
                     terminal_text(save_img ? outputs[i].image : outputs[i].label).c_str(),
                     terminal_text(fs::path(files[i]).stem().string()).c_str());
  }

  // Human-readable lines: stdout normally, stderr when stdout carries JSON.
  std::FILE* human = o.json ? stderr : stdout;
  const bool sliced = o.slice.enabled();
  if (sliced && o.batch > 1)
    throw CLI::ValidationError("--batch", "batches whole images; with --slice, --tile-batch sets the tiles per forward");
  if (sliced) std::fprintf(human, "sliced inference: %s\n", describe_slicing(o.slice).c_str());

  if (!files.empty()) {
    ProgressBar bar(files.size(), "images", o.quiet);
    BatchedImages reader(files, static_cast<std::size_t>(o.batch), bar);
    // A sliced photo gets a bar over its tiles (drawn over the images' bar while it runs).
    std::unique_ptr<ProgressBar> tiles_bar;
    options.tile_progress = [&](int done, int total) {
      if (!tiles_bar) tiles_bar = std::make_unique<ProgressBar>(static_cast<std::size_t>(total), "tiles", o.quiet);
      tiles_bar->update(static_cast<std::size_t>(done));
    };
    DetectionReport total;
    StageTimes total_times;
    std::size_t detected = 0;
    while (true) {
      bar.update(reader.taken());
      std::vector<LoadedImage> loaded = reader.next();
      if (loaded.empty()) break;
      std::vector<DetectionReport> reports(loaded.size());
      const std::vector<std::vector<Detection>> results = detect_loaded(detector, options, loaded, reports);
      tiles_bar.reset();
      for (std::size_t k = 0; k < loaded.size(); ++k) {
        const LoadedImage& in = loaded[k];
        const std::vector<Detection>& dets = results[k];
        const DetectionReport& r = reports[k];
        const std::size_t i = in.index;
        total.add(r);
        const StageTimes times(r, in.decode_ms);
        total_times.add(times);
        ++detected;
        if (!o.quiet) {
          bar.clear();
          std::fprintf(human, "image %zu/%zu %s: %dx%d %s", i + 1, files.size(), terminal_text(in.path).c_str(),
                       r.input_h, r.input_w, terminal_text(detection_counts(dets, names)).c_str());
          if (sliced)
            std::fprintf(human,
                         "%d tiles in %d forwards, %.1fms pre-process, %.1fms inference, %.1fms NMS, %.1fms merge\n",
                         r.tiles, r.forwards, r.pre_ms, r.infer_ms, r.nms_ms, r.merge_ms);
          else
            std::fprintf(human, "%.1fms\n", r.infer_ms);
          if (o.print_boxes) print_boxes(human, dets, names);
        }
        if (o.json)
          std::printf("%s\n", json_text(detections_json(names, in.path, in.image, dets, r, times, sliced)).c_str());
        std::fflush(stdout);

        if (save_img) {
          Image annotated = in.image;
          draw_detections(annotated, dets, names, o.draw);
          save_image((fs::path(save_dir) / outputs[i].image).string(), annotated);
        }
        if (o.save_txt)
          write_labels((fs::path(save_dir) / "labels" / outputs[i].label).string(), dets, in.image.width,
                       in.image.height, o.save_conf);
      }
    }
    bar.clear();
    if (detected > 0) {
      const double n = static_cast<double>(detected);
      if (sliced)
        std::fprintf(human, "%s\n", sliced_speed(total, total_times.decode, n).c_str());
      else
        std::fprintf(human, "%s at shape (%d, 3, %d, %d)\n", speed_text(total_times, n, "NMS").c_str(), o.batch,
                     img_size, img_size);
    }
    if (!save_dir.empty()) std::fprintf(human, "Results saved to %s\n", terminal_text(save_dir).c_str());
    if (o.save_txt)
      std::fprintf(human, "%s saved to %s\n", counted(detected, "label").c_str(),
                   terminal_text((fs::path(save_dir) / "labels").string()).c_str());
    report_unreadable(reader);
  }
  if (!videos.empty()) {
    VideoOutputs video;
    video.dir = save_dir;
    video.save_video = save_img;
    video.save_txt = o.save_txt;
    video.save_conf = o.save_conf;
    video.json = o.json;
    video.draw = o.draw;
    video.settings = o.video;
    video.settings.batch = o.batch;
    options.tile_progress = nullptr;
    run_detect_video(detector, options, videos, video);
  }
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto opts = std::make_shared<DetectArgs>();
  CLI::App* cmd = app.add_subcommand("detect", "Detect objects in images with a YOLOv5-family model");
  cmd->add_option("model", opts->model, "spdinfer model file (YOLOv5 family)")->required();
  cmd->add_option("images", opts->inputs,
                  "image files, directories or glob patterns (JPEG, PNG, BMP); videos, streams, cameras")
      ->required();
  cmd->add_option("--img,--imgsz,--img-size,--size", opts->img,
                  "inference size in pixels, the longest side, rounded up to the stride (default: the model's)")
      ->check(CLI::Range(32, 8192))
      ->default_str("");  // 0 stands for the model's size: not a value to show
  cmd->add_option("--conf", opts->conf, "confidence threshold")->check(kUnitInterval);
  cmd->add_option("--iou", opts->iou, "NMS IoU threshold")->check(kUnitInterval);
  cmd->add_option("--max-det", opts->max_det, "maximum detections per image")->check(CLI::Range(1, 1000000));
  cmd->add_option("--classes", opts->classes,
                  "keep only these classes, by id or name: --classes 0,5 or --classes person,bus (a number is "
                  "an id)")
      ->delimiter(',');
  cmd->add_flag("--agnostic", opts->agnostic, "class-agnostic NMS");
  CLI::Option* project =
      cmd->add_option("--project", opts->project, "results go to PROJECT/NAME, as YOLOv5's detect.py");
  CLI::Option* name =
      cmd->add_option("--name", opts->name,
                      "run directory under --project; taken: NAME2, NAME3, ... (the first free one)")
          ->check(CLI::Validator([](std::string& s) { return s.empty() ? "must not be empty" : ""; }, ""));
  CLI::Option* exist_ok =
      cmd->add_flag("--exist-ok", opts->exist_ok, "save into PROJECT/NAME even if it exists, not NAME2, ...");
  cmd->add_option("--out", opts->out, "save into exactly this directory (created if missing, reused if "
                                      "present) instead of PROJECT/NAME")
      ->excludes(project)
      ->excludes(name)
      ->excludes(exist_ok);
  cmd->add_flag("--nosave", opts->nosave, "do not save annotated images (labels still with --save-txt)");
  CLI::Option* save_txt = cmd->add_flag(
      "--save-txt", opts->save_txt,
      "also save YOLO labels (class xc yc w h, normalised) to DIR/labels/STEM.txt; inputs sharing a stem "
      "(a/x.jpg, b/x.png) are saved as x, x_2, x_3, ...");
  cmd->add_flag("--save-conf", opts->save_conf, "add the confidence as a 6th column to the --save-txt labels")
      ->needs(save_txt);
  cmd->add_flag("--print-boxes", opts->print_boxes,
                "under each image's line, one line per box: class id, name, confidence, x1 y1 x2 y2 in pixels");
  cmd->add_flag("--json", opts->json, "one JSON object per image on stdout (other output goes to stderr)");
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_option("--line-thickness", opts->draw.line_width,
                  "box line width in pixels; 0: YOLOv5's, max(round((w+h)/2*0.003),2); text size follows it")
      ->check(CLI::Range(0, 200));
  cmd->add_flag("--hide-labels", opts->draw.hide_labels, "draw boxes without labels (default: labels drawn)");
  cmd->add_flag("--hide-conf", opts->draw.hide_conf, "labels without the confidence (default: shown)");
  add_slice_options(cmd, opts->slice);
  cmd->add_option("--batch", opts->batch,
                  "images (or video frames) per forward pass; detections are the same as one at a time")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--quiet", opts->quiet, "no line per image and no progress bar: only the summary and warnings");
  add_video_options(cmd, opts->video);
  cmd->callback([opts] { run_detect(*opts); });
}

}  // namespace spdinfer::cli

// `spdinfer detect MODEL IMAGE|DIR|GLOB... [--img 640] [--conf 0.25] [--iou 0.45] [--max-det 1000]
//  [--classes ID,...] [--agnostic] [--out DIR] [--save-txt] [--json] [--threads N]`:
// YOLOv5's detect.py for spdinfer models: letterbox, forward, NMS, boxes in
// original pixels; console lines like detect.py's, optional annotated images,
// YOLO label files and JSON lines. Thin: the numerics are models/preprocess,
// models/detection and models/draw.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/number_checks.h"
#include "engine/error.h"
#include "models/detection.h"
#include "models/draw.h"
#include "models/image.h"
#include "models/model.h"
#include "models/preprocess.h"

namespace spdinfer::cli {
namespace {
namespace fs = std::filesystem;

struct DetectOptions {
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
};

const CLI::Validator kUnitInterval = finite_range(0.0, 1.0);

std::string class_name(const Model& m, int id) {
  return id >= 0 && static_cast<std::size_t>(id) < m.class_names.size() ? m.class_names[id]
                                                                        : "class" + std::to_string(id);
}

void make_directory(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error(dir + ": cannot create output directory: " + ec.message());
}

void write_labels(const std::string& path, const std::vector<Detection>& dets, int w, int h) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error(path + ": cannot write labels");
  for (const Detection& d : dets) std::fprintf(f, "%s\n", yolo_label_line(d, w, h).c_str());
  if (std::fclose(f) != 0) throw Error(path + ": cannot write labels");
}

nlohmann::json detections_json(const Model& m, const std::string& path, const Image& img,
                               const std::vector<Detection>& dets, double pre, double infer, double nms) {
  nlohmann::json list = nlohmann::json::array();
  for (const Detection& d : dets)
    list.push_back({{"class_id", d.class_id},
                    {"class_name", class_name(m, d.class_id)},
                    {"confidence", round_significant(d.confidence, 6)},
                    {"box",
                     {round_decimals(d.x1, 2), round_decimals(d.y1, 2), round_decimals(d.x2, 2),
                      round_decimals(d.y2, 2)}}});
  return {{"image", path},
          {"width", img.width},
          {"height", img.height},
          {"detections", list},
          {"ms",
           {{"pre", round_decimals(pre, 3)},
            {"infer", round_decimals(infer, 3)},
            {"nms", round_decimals(nms, 3)}}}};
}

void run_detect(const DetectOptions& o) {
  if (o.save_txt && o.out.empty()) throw Error("--save-txt writes into OUT/labels: give --out DIR");
  Model m = load_model(o.model);
  if (m.family != "yolov5")
    throw Error(o.model + ": is a " + m.family +
                " classifier, not a YOLOv5 detector; use `spdinfer classify`");
  const int nc = static_cast<int>(m.class_names.size());
  for (int c : o.classes)
    if (c >= nc)
      throw Error("--classes " + std::to_string(c) + ": the model has " + std::to_string(nc) +
                  " classes (0-" + std::to_string(nc - 1) + ")");
  const int stride = m.strides.empty() ? 32 : *std::max_element(m.strides.begin(), m.strides.end());
  const int img_size = round_up_to_multiple(o.img, stride);
  if (img_size != o.img)
    std::fprintf(stderr, "spdinfer: warning: --img %d must be a multiple of max stride %d, updating to %d\n",
                 o.img, stride, img_size);

  const std::vector<std::string> files = expand_image_inputs(o.inputs);
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
  NmsOptions nms_options;
  nms_options.conf_threshold = o.conf;
  nms_options.iou_threshold = o.iou;
  nms_options.max_det = o.max_det;
  nms_options.classes = o.classes;
  nms_options.agnostic = o.agnostic;

  ProgressBar bar(files.size());
  double total_pre = 0, total_infer = 0, total_nms = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string& path = files[i];
    bar.update(i);
    auto t0 = Clock::now();
    const Image img = load_image(path);
    const LetterboxGeometry g = letterbox_geometry(img.width, img.height, img_size, img_size, stride);
    const Tensor x = image_to_tensor(letterbox(img, g), m.preprocess);
    const double pre = ms_since(t0);

    double infer = 0;
    const std::vector<Tensor> out = forward_image(m, x, o.threads, path, &infer);

    auto t2 = Clock::now();
    const Tensor& pred = out.at(0);  // (1, boxes, 5 + classes)
    std::vector<Detection> dets =
        non_max_suppression(pred.data(), pred.dim(1), static_cast<int>(pred.dim(2)), nms_options);
    scale_boxes_to_source(dets, g);
    const double nms = ms_since(t2);
    total_pre += pre;
    total_infer += infer;
    total_nms += nms;

    bar.clear();
    std::fprintf(human, "image %zu/%zu %s: %dx%d %s%.1fms\n", i + 1, files.size(), path.c_str(), g.out_h,
                 g.out_w, detection_counts(dets, m.class_names).c_str(), infer);
    if (o.json) std::printf("%s\n", detections_json(m, path, img, dets, pre, infer, nms).dump().c_str());
    std::fflush(stdout);

    if (!o.out.empty()) {
      const std::string name = fs::path(path).filename().string();
      Image annotated = img;
      draw_detections(annotated, dets, m.class_names);
      save_image((fs::path(o.out) / name).string(), annotated);
      if (o.save_txt)
        write_labels((fs::path(o.out) / "labels" / fs::path(name).replace_extension(".txt")).string(), dets,
                     img.width, img.height);
    }
  }
  bar.clear();
  const double n = static_cast<double>(files.size());
  std::fprintf(human,
               "Speed: %.1fms pre-process, %.1fms inference, %.1fms NMS per image at shape (1, 3, %d, %d)\n",
               total_pre / n, total_infer / n, total_nms / n, img_size, img_size);
  if (!o.out.empty())
    std::fprintf(human, "Results saved to %s%s\n", o.out.c_str(), o.save_txt ? " (labels in labels/)" : "");
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto opts = std::make_shared<DetectOptions>();
  CLI::App* cmd = app.add_subcommand("detect", "Detect objects in images with a YOLOv5-family model");
  cmd->option_defaults()->always_capture_default();
  cmd->add_option("model", opts->model, "spdinfer model file (YOLOv5 family)")->required();
  cmd->add_option("images", opts->inputs, "image files, directories or glob patterns (JPEG, PNG, BMP)")
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
  cmd->callback([opts] { run_detect(*opts); });
}

}  // namespace spdinfer::cli

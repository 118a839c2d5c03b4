// `spdinfer classify MODEL IMAGE|DIR|GLOB... [--topk 5] [--labels FILE] [--json] [--threads N]
//  [--size|--img N|HxW] [--resize resize|resize_crop|letterbox]`:
// the model's preprocessing preset (overridable), softmax, top-k with class
// names; a text line per image like YOLOv5's classify/predict.py, or JSON
// lines. Thin: the chain is models/classifier.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/batched_images.h"
#include "apps/commands.h"
#include "apps/terminal_text.h"
#include "apps/image_batch.h"
#include "apps/input_size.h"
#include "apps/stage_times.h"
#include "engine/error.h"
#include "image/image.h"
#include "models/classification.h"
#include "models/classifier.h"

namespace spdinfer::cli {
namespace {
struct ClassifyOptions {
  std::string model;
  std::vector<std::string> inputs;
  int topk = 5;
  std::string labels;
  bool json = false;
  int threads = 1;
  int batch = 1;
  bool quiet = false;
  InputSize size;      // not given: the model's
  std::string resize;  // "" = the model's
};

void run_classify(const ClassifyOptions& o) {
  Model m = load_model(o.model);
  if (m.family != Family::kResNetSpd)
    throw Error(o.model + ": is a " + family_name(m.family) +
                " detector, not a ResNet-SPD classifier; use `spdinfer detect`");
  Classifier classifier(std::move(m));
  std::vector<std::string> names = classifier.class_names();
  if (!o.labels.empty()) {
    names = read_label_file(o.labels);
    if (names.size() != classifier.class_names().size())
      throw Error(o.labels + ": " + std::to_string(names.size()) + " labels for a model with " +
                  std::to_string(classifier.class_names().size()) + " classes");
  }
  Preprocess p = classifier.preprocess();
  if (o.size.given()) {
    check_input_multiple(classifier.model(), o.size.height, o.size.width, "--size " + o.size.text());
    p.height = o.size.height;
    p.width = o.size.width;
  }
  if (!o.resize.empty()) p.resize = o.resize;
  classifier.set_preprocess(p);

  const std::vector<std::string> files = expand_image_inputs(o.inputs);
  std::FILE* human = o.json ? stderr : stdout;
  ProgressBar bar(files.size(), "images", o.quiet);
  BatchedImages reader(files, static_cast<std::size_t>(o.batch), bar);
  StageTimes total;
  std::size_t classified = 0;
  while (true) {
    bar.update(reader.taken());
    std::vector<LoadedImage> loaded = reader.next();
    if (loaded.empty()) break;
    std::vector<Image> images;
    for (LoadedImage& l : loaded) images.push_back(std::move(l.image));
    std::vector<ClassifyReport> reports;
    const std::vector<std::vector<ClassScore>> results = naming_image(
        loaded.size() == 1 ? loaded[0].path : loaded[0].path + " and the rest of its batch",
        [&] { return classifier.classify_batch(images, o.topk, o.threads, &reports); });
    for (std::size_t k = 0; k < loaded.size(); ++k) {
      const StageTimes times(reports[k], loaded[k].decode_ms);
      total.add(times);
      ++classified;
      if (!o.quiet) {
        bar.clear();
        std::string summary;
        for (const ClassScore& c : results[k]) {
          char prob[32];
          std::snprintf(prob, sizeof prob, " %.2f, ", static_cast<double>(c.probability));
          summary += names.at(c.class_id) + prob;
        }
        // Inference time on the image's line, as `detect` and YOLOv5; the stages in JSON and the Speed line.
        std::fprintf(human, "image %zu/%zu %s: %dx%d %s%.1fms\n", loaded[k].index + 1, files.size(),
                     terminal_text(loaded[k].path).c_str(), p.height, p.width, terminal_text(summary).c_str(),
                     times.inference);
      }
      if (o.json) {
        nlohmann::json topk = nlohmann::json::array();
        for (const ClassScore& c : results[k])
          topk.push_back({{"class_id", c.class_id},
                          {"class_name", names.at(c.class_id)},
                          {"probability", round_significant(c.probability, 6)}});
        const nlohmann::json line = {
            {"image", loaded[k].path}, {"topk", topk}, {"ms", stage_times_json(times, "postprocess")}};
        std::printf("%s\n", json_text(line).c_str());
      }
    }
    std::fflush(stdout);
  }
  bar.clear();
  if (classified > 0)
    std::fprintf(human, "%s at shape (%d, 3, %d, %d)\n",
                 speed_text(total, static_cast<double>(classified), "post-process").c_str(), o.batch, p.height,
                 p.width);
  report_unreadable(reader);
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto opts = std::make_shared<ClassifyOptions>();
  CLI::App* cmd = app.add_subcommand("classify", "Classify images with a ResNet-SPD model");
  cmd->add_option("model", opts->model, "spdinfer model file (ResNet-SPD)")->required();
  cmd->add_option("images", opts->inputs, "image files, directories or glob patterns (JPEG, PNG, BMP)")
      ->required();
  cmd->add_option("--topk", opts->topk, "how many classes to show per image")->check(CLI::Range(1, 100000));
  cmd->add_option("--labels", opts->labels, "class names, one per line (default: the model's)");
  cmd->add_flag("--json", opts->json, "one JSON object per image on stdout (other output goes to stderr)");
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_option("--batch", opts->batch, "images per forward pass (results are the same as one at a time)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--quiet", opts->quiet, "no line per image and no progress bar: only the summary and warnings");
  add_input_size_option(cmd, opts->size, "--size", "network input size (default: the model's)");
  cmd->add_option("--resize", opts->resize, "resize mode (default: the model's)")
      ->check(CLI::IsMember({"resize", "resize_crop", "letterbox"}));
  cmd->callback([opts] { run_classify(*opts); });
}

}  // namespace spdinfer::cli

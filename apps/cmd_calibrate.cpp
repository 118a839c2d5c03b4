// `spdinfer calibrate MODEL IMAGES... -o OUT [--images N] [--method kl|minmax|percentile]
//  [--percentile P] [--table FILE] [--from-table FILE] [--threads N] [--quiet]`:
// an int8 model file from an fp32 one. The float graph runs on calibration
// images prepared exactly as detect (letterbox at the model's input size) or
// classify (the model's preset) prepares them, an observer collecting the
// range of every int8 convolution's input (engine/quant/activation_stats.h);
// each such convolution's folded weights are quantised per output channel.
// Kept fp32: YOLOv5 Detect's output convolutions (their outputs are decoded
// boxes and scores) and every node that is not a conv2d. Writes OUT (format
// version 2, docs/design.md "Model file") and the editable scale table.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <map>
#include <set>

#include "apps/calibration_check.h"
#include "apps/calibration_table.h"
#include "apps/commands.h"
#include "apps/image_batch.h"
#include "apps/number_checks.h"
#include "apps/terminal_text.h"
#include "engine/error.h"
#include "engine/model_file.h"
#include "engine/model_file_writer.h"
#include "engine/ops/conv2d_int8.h"
#include "engine/quant/activation_stats.h"
#include "eval/dataset.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "models/detector.h"
#include "models/model.h"
#include "models/quantization.h"

namespace spdinfer::cli {
namespace {
namespace fs = std::filesystem;

struct CalibrateOptions {
  std::string model, out, table, from_table, method = "kl";
  std::string check, check_split = "val";  // --check: a labelled dataset scored fp32 against int8
  double max_drop = 1.0;                   // points of the gated metrics --check warns above
  std::vector<std::string> inputs;
  int images = 200;
  double percentile = 99.99;
  int threads = 1;
  bool quiet = false;
};

// The convolutions that may run in int8: every conv2d but those whose output Detect decodes.
std::vector<const Node*> quantisable_convs(const Model& m) {
  std::set<std::string> decoded;
  for (const Node& n : m.graph->nodes())
    if (n.op == "yolo_decode")
      for (const std::string& in : n.inputs) decoded.insert(in);
  std::vector<const Node*> convs;
  for (const Node& n : m.graph->nodes())
    if (n.op == "conv2d" && !decoded.count(n.outputs.at(0)) && m.conv_tensors.count(n.name)) convs.push_back(&n);
  return convs;
}

std::string default_table_path(const std::string& out) {
  fs::path p(out);
  if (p.extension() == ".safetensors") p.replace_extension();
  return p.string() + ".table";
}

std::string megabytes(std::uintmax_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// One calibration input, made into the network's input when its turn comes (so that only one is
// in memory at a time); throws spdinfer::Error for an image that cannot be read.
struct CalibrationInput {
  std::function<Tensor()> prepare;
};

bool is_idx_images(const std::string& path) {
  return fs::path(path).filename().string().find("images-idx3-ubyte") != std::string::npos;
}

// The first `limit` inputs of `args`: image files and folders (sorted, as detect lists them),
// prepared as `detect` (letterbox at the model's input size) or `classify` prepares them; for a
// classifier also idx image files (Fashion-MNIST's), each sample prepared as `val` prepares it,
// centred on the input rather than resized, so that calibration sees what val will run.
std::vector<CalibrationInput> calibration_inputs(const std::vector<std::string>& args, const Model& m,
                                                 std::size_t limit) {
  std::vector<CalibrationInput> inputs;
  std::vector<std::string> images;
  for (const std::string& arg : args) {
    if (!is_idx_images(arg)) {
      images.push_back(arg);
      continue;
    }
    if (m.family == Family::kYoloV5)
      throw CLI::ValidationError(arg + ": idx files hold a classifier's images; a detector calibrates on images");
    auto data = std::make_shared<const LabelledDataset>(open_dataset(arg, m.class_names));
    for (std::size_t i = 0; i < data->size() && inputs.size() < limit; ++i)
      inputs.push_back({[data, i, &m] { return dataset_batch(*data, i, i + 1, m.preprocess); }});
  }
  const int stride = m.strides.empty() ? 32 : *std::max_element(m.strides.begin(), m.strides.end());
  for (const std::string& file : images.empty() ? images : expand_image_inputs(images)) {
    if (inputs.size() >= limit) break;
    inputs.push_back({[file, stride, &m] {
      const Image image = load_image(file);
      const Preprocess& p = m.preprocess;
      if (m.family != Family::kYoloV5) return image_to_tensor(resize_for_classifier(image, p), p);
      const int size = round_up_to_multiple(std::max(p.height, p.width), stride);
      return image_to_tensor(letterbox(image, letterbox_geometry(image.width, image.height, size, size, stride)), p);
    }});
  }
  return inputs;
}

void run_calibrate(const CalibrateOptions& o) {
  const CalibrationMethod method = calibration_method(o.method);
  std::error_code same_error;
  if (fs::equivalent(o.model, o.out, same_error))
    throw CLI::ValidationError("-o " + o.out + ": is the model file itself; write the int8 model to another file");
  ModelFile file = read_model_file(o.model);
  if (file.metadata.count("quantization"))
    throw Error(o.model + ": already an int8 model (made by spdinfer calibrate); calibrate the fp32 model file");
  const std::map<std::string, std::string> metadata = file.metadata;
  const std::vector<TensorInfo> stored = file.tensors;
  WeightStore originals;
  for (const auto& [name, t] : file.weights) originals.emplace(name, t.clone());
  const Model m = build_model(std::move(file));
  if (!o.check.empty()) check_accuracy_dataset(m, o.check, o.check_split);
  const std::vector<const Node*> convs = quantisable_convs(m);
  std::set<std::string> quantisable;
  for (const Node* n : convs) quantisable.insert(n->name);

  // The scales: from a table, or from the images.
  std::map<std::string, float> scales;
  std::vector<TableLine> lines;
  std::size_t used_images = 0;
  if (!o.from_table.empty()) {
    if (!o.inputs.empty())
      throw CLI::ValidationError("--from-table " + o.from_table + ": takes its scales from the table; give no images");
    scales = read_calibration_table(o.from_table, quantisable, o.model);
    for (const Node* n : convs)
      if (scales.count(n->name)) lines.push_back({n->name, scales[n->name], ""});
  } else {
    if (o.inputs.empty())
      throw CLI::ValidationError("no calibration images: give image files or folders, or --from-table FILE");
    const std::vector<CalibrationInput> inputs = calibration_inputs(o.inputs, m, static_cast<std::size_t>(o.images));
    // Statistics per value that some int8 convolution reads.
    std::map<std::string, ActivationStats> stats;
    for (const Node* n : convs) stats[n->inputs.at(0)];
    const std::string graph_input = m.graph->def().inputs.at(0);
    RunOptions run;
    run.threads = o.threads;
    run.observer = [&](const Node& node, const Tensor& output, double) {
      auto it = stats.find(node.outputs.at(0));
      if (it != stats.end()) it->second.add(output.data(), output.numel());
    };
    ProgressBar bar(inputs.size(), "images", o.quiet);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      Tensor x;
      try {
        x = inputs[i].prepare();
      } catch (const Error& e) {
        bar.clear();
        std::fprintf(stderr, "spdinfer: warning: skipped %s\n", terminal_text(e.what()).c_str());
        continue;
      }
      auto in = stats.find(graph_input);
      if (in != stats.end()) in->second.add(x.data(), x.numel());
      blaming_model(m, x.shape(), [&] { return m.graph->forward({&x}, run); });
      ++used_images;
      bar.update(i + 1);
    }
    bar.clear();
    if (used_images == 0) throw Error("no calibration image could be read (of " + std::to_string(inputs.size()) + ")");
    for (const Node* n : convs) {
      const ActivationStats& s = stats.at(n->inputs.at(0));
      const double threshold = s.threshold(method, o.percentile);
      scales[n->name] = scale_from_threshold(threshold);
      char comment[96];
      std::snprintf(comment, sizeof comment, "max |x| %.6g, threshold %.6g", s.max_abs(), threshold);
      lines.push_back({n->name, scales[n->name], comment});
    }
  }

  // The int8 file: the quantised convolutions' tensors replace their originals.
  std::set<std::string> replaced;
  for (const auto& [node, scale] : scales)
    for (const std::string& t : m.conv_tensors.at(node)) replaced.insert(t);
  std::vector<TensorToWrite> tensors;
  for (const TensorInfo& info : stored) {
    if (replaced.count(info.name)) continue;
    const Tensor& t = originals.at(info.name);
    tensors.push_back(info.dtype == "F16" ? f16_tensor(info.name, t) : f32_tensor(info.name, t));
  }
  for (const Node* n : convs) {
    if (!scales.count(n->name)) continue;
    const Tensor& w = m.graph->weight(n->weights.at(0));
    // The engine's own rule (engine/ops/conv2d_int8.h), which the int8 kernel applies again to
    // q * scale at load and so gets back exactly these q.
    const Int8Weights q = quantize_conv_weights(w);
    Tensor weight_scale = Tensor::zeros({q.rows});
    std::copy(q.scale.begin(), q.scale.end(), weight_scale.data());
    Tensor bias = n->weights.size() > 1 ? m.graph->weight(n->weights[1]).clone() : Tensor::zeros({w.shape().at(0)});
    tensors.push_back(i8_tensor(n->name + ".weight_int8", w.shape(), q.q));
    tensors.push_back(f32_tensor(n->name + ".weight_scale", weight_scale));
    tensors.push_back(f32_tensor(n->name + ".bias", bias));
  }
  QuantizationInfo info;
  info.method = o.from_table.empty() ? calibration_method_name(method) : "table";
  info.images = static_cast<int>(used_images);
  info.percentile = o.percentile;
  info.input_scales = scales;
  std::map<std::string, std::string> out_metadata = metadata;
  out_metadata["format_version"] = std::to_string(kQuantizedModelFormatVersion);
  out_metadata["quantization"] = quantization_text(info);
  write_safetensors(o.out, out_metadata, tensors);
  // What was written must load: a check of this command, cheap next to the calibration.
  load_model(o.out, LoadOptions{Precision::kFp32});

  const std::string table = o.table.empty() ? default_table_path(o.out) : o.table;
  write_calibration_table(
      table,
      {"spdinfer activation scales for " + fs::path(o.out).filename().string() + " (" + info.method + ", " +
           std::to_string(used_images) + " images)",
       "node scale: the node's input x runs as clamp(round(x / scale), -127, 127)",
       "edit a scale, or delete a line to keep that node in fp32, then:",
       "spdinfer calibrate " + o.model + " --from-table " + table + " -o " + o.out},
      lines);
  std::vector<std::string> kept;
  for (const Node& n : m.graph->nodes())
    if (n.op == "conv2d" && !scales.count(n.name)) kept.push_back(n.name);
  std::string kept_text;
  for (std::size_t i = 0; i < kept.size() && i < 4; ++i) kept_text += (i ? ", " : "") + kept[i];
  if (kept.size() > 4) kept_text += ", ...";
  std::printf("calibrated %s: %s, %zu image%s\n", terminal_text(o.model).c_str(), info.method.c_str(), used_images,
              used_images == 1 ? "" : "s");
  std::printf("convolutions: %zu int8, %zu kept fp32%s\n", scales.size(), kept.size(),
              kept.empty() ? "" : (" (" + terminal_text(kept_text) + ")").c_str());
  std::printf("model file: %s -> %s (%s)\n", megabytes(fs::file_size(o.model)).c_str(),
              megabytes(fs::file_size(o.out)).c_str(), terminal_text(o.out).c_str());
  std::printf("scale table: %s\n", terminal_text(table).c_str());
  std::fflush(stdout);
  if (!o.check.empty())
    report_accuracy_changes(compare_accuracy(o.model, o.out, o.check, o.check_split, o.threads), o.check, o.max_drop,
                            table);
}

}  // namespace

void add_calibrate_command(CLI::App& app) {
  auto opts = std::make_shared<CalibrateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Make an int8 model file: per-channel int8 convolution weights, activation scales from images");
  cmd->add_option("model", opts->model, "spdinfer model file (fp32 or fp16 weights)")->required();
  cmd->add_option("images", opts->inputs,
                  "calibration images: files, directories or glob patterns (JPEG, PNG, BMP), as detect takes them; "
                  "for a classifier also idx image files (*images-idx3-ubyte*, prepared as val prepares them)");
  cmd->add_option("-o,--out", opts->out, "the int8 model file to write")->required()->type_name("FILE");
  cmd->add_option("--images", opts->images, "use the first N images (in sorted order)")->check(CLI::Range(1, 1000000));
  cmd->add_option("--method", opts->method,
                  "activation threshold: kl (KL divergence, as TensorRT and ncnn), minmax (largest |x|), "
                  "percentile (--percentile of |x|)")
      ->check(CLI::IsMember({"kl", "minmax", "percentile"}));
  cmd->add_option("--percentile", opts->percentile, "with --method percentile: the percentile of |x| kept")
      ->check(finite_range(50.0, 100.0));
  cmd->add_option("--table", opts->table,
                  "write the scale table here (default: OUT with .table for .safetensors)")
      ->type_name("FILE");
  cmd->add_option("--from-table", opts->from_table,
                  "take the scales from this table (as --table writes it) instead of images; a node without a "
                  "line stays fp32")
      ->type_name("FILE");
  cmd->add_option("--check", opts->check,
                  "score the fp32 and the int8 model on this labelled dataset as val does (a detector's dataset "
                  "file, a classifier's idx files or class folders) and warn when int8 loses more than --max-drop "
                  "points of mAP@0.5, AP-small or top-1")
      ->type_name("DATASET");
  cmd->add_option("--check-split", opts->check_split, "with --check on a detector's dataset file: the split");
  cmd->add_option("--max-drop", opts->max_drop, "with --check: the points of accuracy int8 may lose without a warning")
      ->check(finite_range(0.0, 100.0));
  cmd->add_option("--threads", opts->threads, "threads the engine uses")->check(CLI::Range(1, 256));
  cmd->add_flag("--quiet", opts->quiet, "no progress bar");
  cmd->callback([opts] { run_calibrate(*opts); });
}

}  // namespace spdinfer::cli

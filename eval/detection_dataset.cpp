#include "eval/detection_dataset.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/json_checked.h"
#include "image/image.h"

namespace spdinfer {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> images_in(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(folder + ": image folder does not exist");
  std::vector<std::string> files;
  for (std::string& f : list_folder(folder))
    if (has_image_extension(f)) files.push_back(std::move(f));
  if (files.empty()) throw Error(folder + ": no .jpg, .jpeg, .png or .bmp images");
  return files;
}

nlohmann::json read_json_file(const std::string& path) {
  const nlohmann::json j =
      parse_json_checked(path, "dataset file", read_regular_file(path, "dataset file", kMaxTextFileBytes),
                         kDatasetJsonLimits);
  if (!j.is_object())
    throw Error(path + ": not a JSON dataset file (weights_tools/train/synth_scenes.py writes dataset.json; a YOLOv5 "
                       "YAML can be given as its split folder, e.g. DIR/images/val)");
  return j;
}

// The split's image folder from a dataset file: `path` (default: the file's
// folder; relative to it when relative) joined with the split's entry.
std::string split_folder(const std::string& file, const nlohmann::json& j, const std::string& split) {
  if (!j.contains(split) || !j[split].is_string()) {
    std::string have;
    for (const char* s : {"train", "val", "test"})
      if (j.contains(s) && j[s].is_string()) have += std::string(have.empty() ? "" : ", ") + s;
    throw Error(file + ": no split '" + split + "'" + (have.empty() ? "" : " (it has " + have + ")"));
  }
  const fs::path dir = fs::path(file).parent_path();
  fs::path root = j.contains("path") && j["path"].is_string() ? fs::path(j["path"].get<std::string>()) : dir;
  if (root.is_relative()) root = dir / root;
  // A dataset moved or copied elsewhere keeps its layout: look beside the file.
  std::error_code ec;
  if (!fs::is_directory(root, ec)) root = dir;
  return (root / j[split].get<std::string>()).lexically_normal().string();
}

std::string number_text(double x) {
  std::ostringstream s;
  s << x;
  return s.str();
}

}  // namespace

std::string label_path_for_image(const std::string& image) {
  const std::string key = "/images/";
  const std::size_t at = image.rfind(key);
  std::string path = at == std::string::npos ? image : image.substr(0, at) + "/labels/" + image.substr(at + key.size());
  return fs::path(path).replace_extension(".txt").string();
}

DetectionDataset open_detection_dataset(const std::string& path, const std::string& split) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw Error(path + ": no such file or folder");
  DetectionDataset d;
  std::string folder;
  const std::string dataset_file =
      fs::is_directory(st) ? (fs::path(path) / "dataset.json").string() : std::string(path);
  if (!fs::is_directory(st) || fs::exists(fs::symlink_status(dataset_file, ec))) {
    const nlohmann::json j = read_json_file(dataset_file);
    folder = split_folder(dataset_file, j, split);
    if (j.contains("names") && j["names"].is_array())
      for (const auto& n : j["names"]) {
        if (!n.is_string()) throw Error(dataset_file + ": names must be strings");
        d.class_names.push_back(n.get<std::string>());
      }
    d.description = dataset_file + " (" + split + ": " + folder + ")";
  } else {
    folder = path;
    d.description = path;
  }
  for (const std::string& image : images_in(folder)) d.samples.push_back({image, label_path_for_image(image)});
  return d;
}

std::vector<LabelledBox> read_yolo_labels(const std::string& path, int width, int height, int num_classes) {
  std::vector<LabelledBox> boxes;
  std::error_code ec;
  if (!fs::exists(path, ec)) return boxes;
  std::istringstream in(read_regular_file(path, "labels file", kMaxTextFileBytes));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ": ";
    std::istringstream fields(line);
    std::vector<double> v;
    std::string field;
    while (fields >> field) {
      char* end = nullptr;
      const double x = std::strtod(field.c_str(), &end);
      if (end == field.c_str() || *end != '\0' || !std::isfinite(x))
        throw Error(where + "'" + field + "' is not a number");
      v.push_back(x);
    }
    if (v.empty()) continue;
    if (v.size() != 5)
      throw Error(where + "expected 'class cx cy w h' (5 numbers, normalised), found " + std::to_string(v.size()));
    if (v[0] != std::floor(v[0]) || v[0] < 0 || v[0] >= num_classes)
      throw Error(where + "class " + number_text(v[0]) + " is not one of the model's classes 0-" +
                  std::to_string(num_classes - 1));
    if (v[3] < 0 || v[4] < 0) throw Error(where + "negative box size");
    LabelledBox b;
    b.class_id = static_cast<int>(v[0]);
    b.x1 = (v[1] - v[3] / 2) * width;
    b.y1 = (v[2] - v[4] / 2) * height;
    b.x2 = (v[1] + v[3] / 2) * width;
    b.y2 = (v[2] + v[4] / 2) * height;
    boxes.push_back(b);
  }
  return boxes;
}

}  // namespace spdinfer

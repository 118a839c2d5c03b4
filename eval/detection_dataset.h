// Labelled detection datasets in YOLOv5's layout, for `spdinfer val` on a
// detector: images in DIR/images/SPLIT/, one label file per image in
// DIR/labels/SPLIT/NAME.txt with a line `class cx cy w h` (normalised to the
// image) per object, and optionally a dataset file (JSON, as
// weights_tools/train/synth_scenes.py writes: `path`, one key per split naming its
// image folder relative to `path`, `names`).
// What it is not: running the model or scoring (detection_metrics.h).
#pragma once

#include <string>
#include <vector>

#include "engine/json_checked.h"
#include "eval/detection_metrics.h"

namespace spdinfer {

// dataset.json: a few keys and a list of class names.
constexpr JsonLimits kDatasetJsonLimits{16, 1'000'000};

struct DetectionSample {
  std::string image, labels;  // the label file may be absent: an image without objects
};

struct DetectionDataset {
  std::string description;               // what was opened, for people
  std::vector<DetectionSample> samples;  // sorted by image path
  std::vector<std::string> class_names;  // the dataset file's names; empty without one
};

// Opens PATH as:
// - a dataset file (a regular file, JSON): the images of `split`, under its
//   `path` (relative to the file; the file's own folder when absent or when
//   that folder does not exist, e.g. after the dataset was moved);
// - a folder holding dataset.json: the same;
// - a folder of images (e.g. DIR/images/val): its .jpg/.jpeg/.png/.bmp files.
// An image's labels are found as YOLOv5 finds them: the last "/images/" of its
// path becomes "/labels/" and the extension ".txt"; an image outside any
// images/ folder has them beside it. Throws spdinfer::Error naming the path:
// unreadable or non-JSON file, unknown split, missing folder, no images.
DetectionDataset open_detection_dataset(const std::string& path, const std::string& split);

std::string label_path_for_image(const std::string& image);

// The objects of one label file as pixel boxes of a width x height image
// (x1 = (cx - w/2) * width, ...). A missing file is an image without objects.
// Throws spdinfer::Error "FILE:LINE: ..." for a line that is not five numbers,
// a class outside [0, num_classes), or a negative or non-finite size.
std::vector<LabelledBox> read_yolo_labels(const std::string& path, int width, int height, int num_classes);

}  // namespace spdinfer

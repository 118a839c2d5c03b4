// YOLOv5 post-processing: the decoded Detect output -> boxes, as YOLOv5's
// utils/general.py non_max_suppression (single label per box) and
// scale_boxes do, plus the per-image text YOLOv5 prints and writes.
// What it is not: Detect's decoding (a graph op, yolo_detect_op.h), drawing
// (draw.h), or any file I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image/preprocess.h"

namespace spdinfer {

struct Detection {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // corners, pixels
  float confidence = 0;                  // objectness * class score
  int class_id = 0;
};

struct NmsOptions {
  float conf_threshold = 0.25f;  // both objectness and final score must exceed it
  float iou_threshold = 0.45f;   // suppress overlaps with IoU above it
  int max_det = 1000;
  std::vector<int> classes;  // keep only these class ids; empty = all
  bool agnostic = false;     // one NMS over all classes instead of per class
};

// YOLOv5's offset that separates classes for a single NMS pass (max_wh).
constexpr float kClassOffset = 7680.0f;
// At most this many candidates (by score) enter NMS, as YOLOv5's max_nms.
constexpr int kMaxNmsCandidates = 30000;

// `pred` holds `rows` rows of `row_size` = 5 + classes floats:
// xc, yc, w, h, objectness, class scores (one image of Detect's decoded output).
// Returns detections sorted by confidence, highest first. Rows with any
// non-finite value among the ones used are dropped, so NaN never reaches a
// comparison.
std::vector<Detection> non_max_suppression(const float* pred, std::int64_t rows, int row_size,
                                           const NmsOptions& options);

// Greedy NMS over boxes already sorted by descending score: indices kept, in
// order (torchvision.ops.nms on sorted input). Exposed for tests.
std::vector<int> nms_sorted(const std::vector<Detection>& boxes, float iou_threshold);
float box_iou(const Detection& a, const Detection& b);

// Network-input pixels -> original-image pixels, as YOLOv5's scale_boxes:
// gain and padding recomputed from the two shapes (so an odd padding split
// is treated as even, as YOLOv5 does), then clipped to the image.
void scale_boxes_to_source(std::vector<Detection>& dets, const LetterboxGeometry& g);

// "4 persons, 2 buses, 1 tie, " (class-id order, as YOLOv5's detect.py, with
// plural_noun's plurals), or "(no detections), ".
std::string detection_counts(const std::vector<Detection>& dets, const std::vector<std::string>& names);

// Some of a model's class names for an error message: "0 person, 1 bicycle, ..., 7 truck, ...
// (80 in all)" (the first `limit`).
std::string class_names_excerpt(const std::vector<std::string>& names, std::size_t limit = 8);

// English plural of a class name by the regular rules, applied only where they
// are safe: "bus" -> "buses", "Dress" -> "Dresses" (ss, us, x, z, ch, sh take
// -es), "butterfly" -> "butterflies" (consonant + y), "person" -> "persons"
// (what YOLOv5 prints). A name that ends in any other 's' ("skis", "scissors")
// is taken as plural already, and one that does not end in an ASCII letter
// ("class7", a name in another script) is left as it is, since no suffix is
// right there. The suffix follows the last letter's case ("BUS" -> "BUSES").
std::string plural_noun(const std::string& name);

// A YOLO label line normalised by the image size, numbers as Python's '%g':
// "class xc yc w h" as YOLOv5 training reads it, or with `with_confidence`
// "class xc yc w h conf" (YOLOv5's --save-conf).
std::string yolo_label_line(const Detection& d, int image_w, int image_h, bool with_confidence);

}  // namespace spdinfer

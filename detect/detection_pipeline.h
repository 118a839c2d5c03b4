// One image through a YOLOv5-family detector, as `spdinfer detect` and
// `spdinfer val` both run it: either the plain pass (letterbox the whole
// image, forward, NMS, boxes back in image pixels: YOLOv5's detect.py), or
// sliced inference for small objects in large images: native-resolution tiles
// (slicing.h) letterboxed to the input size and run as batches, each batch one
// forward pass, optionally plus the plain pass for large objects, and all
// detections merged (box_merge.h).
// The forward pass is a function the caller gives, so the pipeline knows no
// graph and tests can count its calls. What it is not: file I/O or output.
#pragma once

#include <functional>
#include <vector>

#include "detect/box_merge.h"
#include "detect/detection.h"
#include "engine/tensor.h"
#include "image/image.h"

namespace spdinfer {

struct SliceOptions {
  int width = 0, height = 0;  // tile size in image pixels; 0: no slicing
  double overlap = 0.2;       // ratio of the tile size shared by neighbouring tiles
  bool full_pass = true;      // also run the whole letterboxed image, for objects larger than a tile
  int tile_batch = 8;         // tiles per forward pass (the last batch may be smaller)
  MergeOptions merge;         // its agnostic and max_det come from the NmsOptions
  bool enabled() const { return width > 0 && height > 0; }
};

struct DetectionPipelineOptions {
  int img_size = 640;  // network input's longest side, a multiple of `stride`
  int stride = 32;
  NmsOptions nms;
  SliceOptions slice;
  int threads = 1;  // for preparing tiles; the forward function has its own
  // Called after each batch of tiles with the tiles done and the total (a
  // progress bar over a large photo); may be empty.
  std::function<void(int done, int total)> tile_progress;
};

// What ran and how long each stage took.
struct DetectionReport {
  int input_w = 0, input_h = 0;  // network input of the plain pass, else of the tiles
  int tiles = 0;                 // tiles run (0 without slicing)
  int forwards = 0;              // forward passes (batches)
  // Letterbox + tensors, forward passes, NMS + boxes back in image pixels,
  // merging the tiles' and full pass's boxes (sliced only).
  double pre_ms = 0, infer_ms = 0, nms_ms = 0, merge_ms = 0;

  // Adds another pass's counts and stage times (its input size is not summed).
  void add(const DetectionReport& other) {
    tiles += other.tiles;
    forwards += other.forwards;
    pre_ms += other.pre_ms;
    infer_ms += other.infer_ms;
    nms_ms += other.nms_ms;
    merge_ms += other.merge_ms;
  }
};

// Runs the network on an (N, 3, H, W) batch and returns its outputs; output 0
// must be Detect's decoded (N, boxes, 5 + classes).
using BatchForward = std::function<std::vector<Tensor>(const Tensor& batch)>;

// Distance in network-input pixels within which a box is taken as touching
// an inner tile border (cut by it): boxes running past the border are clipped
// to it exactly, while the detector's own edge estimate wobbles by a pixel or two.
constexpr float kCutMarginInputPixels = 2.0f;

// Detections in image pixels, highest confidence first. Adds its times to
// `report` (which may be null). Throws spdinfer::Error for an output of the
// wrong shape.
std::vector<Detection> detect_objects(const Image& image, const Preprocess& preprocess,
                                      const DetectionPipelineOptions& options, const BatchForward& forward,
                                      DetectionReport* report = nullptr);

// Several images' plain passes (no slicing), in as few forwards as their
// shapes allow: images whose letterboxed input has the same size run as one
// (N, 3, H, W) batch, so each image sees exactly the input it would alone and
// its detections are those of detect_objects on it. Images of other shapes
// run in further forwards. `reports`, if not null, gets one report per image:
// its own letterbox and NMS times, and its share of its batch's forward
// (forwards counted on the first image of each batch). Throws spdinfer::Error
// when options.slice is enabled (tiles already run in batches) or an output
// has the wrong shape.
std::vector<std::vector<Detection>> detect_objects_batch(const std::vector<const Image*>& images,
                                                         const Preprocess& preprocess,
                                                         const DetectionPipelineOptions& options,
                                                         const BatchForward& forward,
                                                         std::vector<DetectionReport>* reports = nullptr);

}  // namespace spdinfer
